#!/bin/bash
# mock-graph, the loopback Microsoft Graph / identity platform that drip's
# tests send through, answers as Microsoft documents: device-code and
# refresh-token grants, drafts, replies, sends, Sent Items, inbox delta,
# injected faults and inbound mail. Needs no PostgreSQL.
# shellcheck disable=SC2016 # $select, $filter and jq programs are literal
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mock-graph/mock.sh"
plan 74

ME=alice@example.com
LOGIN=/organizations/oauth2/v2.0
GRANT=urn:ietf:params:oauth:grant-type:device_code

# req METHOD PATH [CURL-ARGS...]: $status and $body; headers kept for hdr.
req() {
	_m=$1 _p=$2
	shift 2
	status=$(curl -s -X "$_m" -D "$T/h" -o "$T/b" -w '%{http_code}' "$@" "$MOCK_URL$_p")
	body=$(<"$T/b")
}
hdr() {	# NAME: that header of the last answer (no forks: this runs a lot)
	local line
	while IFS= read -r line; do
		line=${line%$'\r'}
		case ${line,,} in
		"${1,,}":*) line=${line#*:}; printf '%s\n' "${line# }"; return ;;
		esac
	done <"$T/h"
}
j() { jq -c "$@" <<<"$body"; }
jr() { jq -r "$@" <<<"$body"; }
graph() {	# METHOD PATH [CURL-ARGS...], with the current access token
	_m=$1 _p=$2
	shift 2
	req "$_m" "/v1.0$_p" -H "Authorization: Bearer $AT" "$@"
}
post_json() {	# PATH JSON [CURL-ARGS...]
	_p=$1 _d=$2
	shift 2
	graph POST "$_p" -H 'Content-Type: application/json' --data-binary "$_d" "$@"
}
poll() {	# DEVICE-CODE
	req POST "$LOGIN/token" --data-urlencode "grant_type=$GRANT" \
		-d client_id=drip-test --data-urlencode "device_code=$1"
}
refresh() {	# REFRESH-TOKEN
	req POST "$LOGIN/token" -d grant_type=refresh_token -d client_id=drip-test \
		--data-urlencode "refresh_token=$1"
}
oauth_error() { j '[.error, .error_codes]'; }
graph_error() { printf '%s %s' "$status" "$(jr .error.code)"; }
draft_json() {	# SUBJECT TO
	printf '{"subject":"%s","body":{"contentType":"Text","content":"Hi,\\nshort note."},"toRecipients":[{"emailAddress":{"address":"%s","name":"Bob"}}],"internetMessageHeaders":[{"name":"X-Drip-Step","value":"s1"}]}' "$1" "$2"
}
visible() {	# ID: wait (up to 5 s) until GET by id stops answering 404
	for _i in $(seq 50); do
		graph GET "/me/messages/$1"
		[ "$status" != 404 ] && return 0
		sleep 0.1
	done
	return 1
}
inject() { mock_ctl POST "/_mock/users/$ME/inbox" "$1"; }

MOCK_DIR=$T/mock
mkdir -p "$MOCK_DIR"
at_exit mock_stop
mock_start --interval 1 --sent-items-delay 1 || { echo 'Bail out! mock-graph did not start'; exit 1; }
is "$(mock_ctl GET /_mock/health | jq -r .status)" ok 'mock-graph starts; health answers ok'

# --- identity platform: device code ---------------------------------------
req POST "$LOGIN/devicecode" -d 'scope=Mail.Send offline_access'
is "$status $(j '[.error, .error_codes, (.trace_id|length > 0), (.correlation_id|length > 0), (.error_description|startswith("AADSTS900144: "))]')" \
	'400 ["invalid_request",[900144],true,true,true]' 'devicecode without client_id: 400 invalid_request, identity error body'

req POST "$LOGIN/devicecode" -d client_id=drip-test --data-urlencode 'scope=Mail.ReadWrite Mail.Send offline_access openid'
DC=$(jr .device_code) UC=$(jr .user_code)
is "$status $(j '[.verification_uri, .expires_in, .interval, (.user_code|test("^[A-Z0-9]{8}$")), .message == "To sign in, use a web browser to open the page https://microsoft.com/devicelogin and enter the code \(.user_code) to authenticate."]')" \
	'200 ["https://microsoft.com/devicelogin",900,1,true,true]' 'devicecode: the documented fields and message'

poll "$DC"
is "$status $(oauth_error)" '400 ["authorization_pending",[70016]]' 'token poll before approval: authorization_pending'
poll "$DC"
is "$status $(oauth_error)" '400 ["slow_down",[70016]]' 'polling faster than the announced interval: slow_down'
poll "DAQABIQEAAADnotacode"
is "$status $(oauth_error)" '400 ["bad_verification_code",[70018]]' 'unknown device code: bad_verification_code'

mock_ctl POST /_mock/devicecode/approve "{\"user_code\":\"$UC\",\"email\":\"$ME\"}" >/dev/null
sleep 1
poll "$DC"
AT=$(jr .access_token) RT=$(jr .refresh_token)
is "$status $(j '[.token_type, .expires_in, .ext_expires_in, (.access_token|length > 1000), (.refresh_token|length > 500), (.id_token|split(".")|length), .scope]')" \
	'200 ["Bearer",3599,3599,true,true,3,"Mail.ReadWrite Mail.Send openid"]' 'approved: tokens, with a refresh token for offline_access'
poll "$DC"
is "$status $(oauth_error)" '400 ["invalid_grant",[70000]]' 'a redeemed device code cannot be used again'

req POST "$LOGIN/devicecode" -d client_id=drip-test -d scope=Mail.Send
mock_ctl POST /_mock/devicecode/decline "{\"user_code\":\"$(jr .user_code)\"}" >/dev/null
poll "$(jr .device_code)"
is "$status $(oauth_error)" '400 ["authorization_declined",[65004]]' 'declined in the browser: authorization_declined'

graph GET /me
is "$status $(j '[.mail, .userPrincipalName, (.id|length), .displayName]')" '200 ["alice@example.com","alice@example.com",36,"Alice"]' \
	'GET /me with the token: the mailbox the code was approved for'
like "$(hdr request-id) $(hdr content-type)" '^[0-9a-f-]{36} application/json;odata.metadata=minimal' \
	'Graph answers carry request-id and the OData JSON content type'

# --- refresh-token rotation -----------------------------------------------
refresh "$RT"
AT2=$(jr .access_token) RT2=$(jr .refresh_token)
is "$status $([ "$AT2" != "$AT" ] && [ "$RT2" != "$RT" ] && [ ${#RT2} -gt 500 ] && echo rotated)" '200 rotated' \
	'refresh: a new access token and a new refresh token'
refresh "$RT"
is "$status $(oauth_error)" '400 ["invalid_grant",[70000]]' 'the used refresh token is dead (strict rotation)'
AT=$AT2 RT=$RT2
graph GET /me
is "$status" 200 'the rotated access token works'

mock_ctl POST /_mock/tokens/expire >/dev/null
graph GET /me
is "$(graph_error)" '401 InvalidAuthenticationToken' 'expired access token: 401 InvalidAuthenticationToken'
like "$(hdr www-authenticate)" '^Bearer realm="", authorization_uri=' '401 carries WWW-Authenticate: Bearer'
refresh "$RT"
AT=$(jr .access_token) RT=$(jr .refresh_token)
graph GET /me
is "$status" 200 'refreshing after expiry gives a working token'
req GET /v1.0/me
is "$(graph_error) $(jr .error.message)" '401 InvalidAuthenticationToken Access token is empty.' 'no Authorization header: 401'

# --- drafts ----------------------------------------------------------------
graph GET /me/mailFolders/drafts
DRAFTS=$(jr .id)
graph GET /me/mailFolders/sentitems
SENTITEMS=$(jr .id)
post_json /me/messages "$(draft_json 'Quick question' bob@example.org)" -H 'Prefer: IdType="ImmutableId"'
ID=$(jr .id) IMID=$(jr .internetMessageId) CONV=$(jr .conversationId)
is "$status $(j --arg d "$DRAFTS" '[.isDraft, (.id|length > 100), (.conversationId|length > 40), (.internetMessageId|test("^<[A-Z0-9]+@[A-Z0-9]+\\.[a-z0-9]+\\.prod\\.outlook\\.com>$")), .parentFolderId == $d, .subject, .body.contentType, .toRecipients[0].emailAddress.address, .from.emailAddress.address]')" \
	'201 [true,true,true,true,true,"Quick question","text","bob@example.org","alice@example.com"]' 'create draft: 201 and the message resource, in Drafts'
is "$(hdr preference-applied)" 'IdType="ImmutableId"' 'Prefer IdType="ImmutableId" is acknowledged'

post_json /me/messages '{"subject":"x","internetMessageHeaders":[{"name":"X-A","value":"1"},{"name":"X-B","value":"2"},{"name":"X-C","value":"3"},{"name":"X-D","value":"4"},{"name":"X-E","value":"5"},{"name":"X-F","value":"6"}]}'
is "$(graph_error)" '400 InvalidInternetMessageHeaderCollection' 'six internetMessageHeaders: 400'
post_json /me/messages '{"subject":"x","internetMessageHeaders":[{"name":"List-Unsubscribe","value":"<mailto:u@example.com>"}]}'
is "$(graph_error)" '400 InvalidInternetMessageHeader' 'a header name without x-: 400'
post_json /me/messages '{"subject": "x",'
is "$(graph_error)" '400 BadRequest' 'malformed JSON: 400 BadRequest'
post_json /me/messages '{"subjcet":"typo"}'
is "$(graph_error)" '400 RequestBodyRead' 'an unknown message property: 400 RequestBodyRead'
graph POST "/me/messages/$ID/send"
is "$status" 411 'POST without Content-Length: 411, as Graph'"'"'s front end answers'

graph PATCH "/me/messages/$ID" -H 'Content-Type: application/json' --data-binary '{"subject":"Quick question, Bob"}'
is "$status $(j '[.subject, .isDraft]') $([ "$(jr .id)" = "$ID" ] && echo same-id)" '200 ["Quick question, Bob",true] same-id' 'PATCH a draft: 200, updated'

# drip marks its drafts with a single-value extended property and finds
# them again with the documented Any() filter
EP="String {6b1c3f0e-2d4a-4e58-9a7b-5c0d8e1f2a39} Name drip-draft"
post_json /me/messages "$(jq -nc --arg ep "$EP" '{subject: "marked", singleValueExtendedProperties: [{id: $ep, value: "7.abc"}]}')"
MID=$(jr .id)
is "$status $(j 'has("singleValueExtendedProperties")')" '201 false' 'a draft with an extended property: 201, the property not shown unasked'
graph GET /me/mailFolders/drafts/messages -G --data-urlencode "\$filter=singleValueExtendedProperties/Any(ep: ep/id eq '$EP' and ep/value eq '7.abc')" --data-urlencode '$select=id'
s1="$status $(j --arg id "$MID" '[.value[].id == $id]')"
graph GET /me/mailFolders/drafts/messages -G --data-urlencode "\$filter=singleValueExtendedProperties/Any(ep: ep/id eq '$EP' and ep/value eq '7.abd')"
is "$s1 $status $(j '.value | length')" '200 [true] 200 0' 'the Any() filter on it finds that draft, and no draft for another value'
post_json /me/messages '{"subject":"x","singleValueExtendedProperties":[{"id":"drip-draft","value":"1"}]}'
is "$(graph_error)" '400 ErrorInvalidProperty' 'an extended property id that is not "Type {guid} Name n": 400'
graph DELETE "/me/messages/$MID"

# --- send --------------------------------------------------------------------
graph POST "/me/messages/$ID/send" -H 'Content-Length: 0'
is "$status [$body] $(hdr content-length)" '202 [] 0' 'send: 202 with an empty body'
is "$(wc -l <"$MOCK_SENT_LOG") $(jq -c --arg id "$ID" '[.mailbox, .id == $id, .to, .subject, .headers, .body_type, .body]' "$MOCK_SENT_LOG")" \
	'1 ["alice@example.com",true,["bob@example.org"],"Quick question, Bob",{"X-Drip-Step":"s1"},"text","Hi,\nshort note."]' \
	'the sent log has exactly one line, with the message'
graph GET "/me/messages/$ID"
s1=$status
graph GET /me/mailFolders/sentitems/messages -G --data-urlencode "\$filter=internetMessageId eq '$IMID'"
is "$s1 $status $(j '.value|length')" '404 200 0' 'before --sent-items-delay: not found by id nor by $filter'
visible "$ID"
is "$status $(j --arg s "$SENTITEMS" --arg id "$ID" '[.isDraft, .id == $id, .parentFolderId == $s, (.sentDateTime|length > 0)]')" \
	'200 [false,true,true,true]' 'after the delay: the same id, no longer a draft, in Sent Items'
graph GET /me/mailFolders/sentitems/messages -G --data-urlencode "\$filter=internetMessageId eq '$IMID'"
is "$status $(j --arg id "$ID" '[(.value|length), .value[0].id == $id]')" '200 [1,true]' 'Sent Items $filter on internetMessageId finds it'
graph GET /me/messages -G --data-urlencode "\$filter=internetMessageId eq '$IMID'" --data-urlencode '$select=subject'
is "$status $(j '[.value[] | keys]')" '200 [["@odata.etag","id","subject"]]' '/me/messages $filter works too, and $select is honoured'

graph POST "/me/messages/$ID/send" -H 'Content-Length: 0'
is "$(graph_error)" '400 ErrorInvalidOperation' 'sending a message that is not a draft: 400'
graph PATCH "/me/messages/$ID" -H 'Content-Type: application/json' --data-binary '{"body":{"contentType":"text","content":"changed"}}'
is "$(graph_error)" '400 ErrorInvalidPropertyUpdateSentMessage' 'PATCH the body of a sent message: 400'
graph GET "/me/messages/${ID%?????}AAAA="
s1=$(graph_error)
graph GET /me/messages/not-an-id
is "$s1, $(graph_error)" '404 ErrorItemNotFound, 400 ErrorInvalidIdMalformed' 'unknown id: 404 ErrorItemNotFound; malformed id: 400'
is "$(j '[.error.innerError["request-id"] == .error.innerError["client-request-id"], (.error.innerError.date|test("^[0-9-]+T[0-9:]+$"))]') $([ "$(jr '.error.innerError["request-id"]')" = "$(hdr request-id)" ] && echo same)" \
	'[true,true] same' 'Graph error bodies carry innerError with the request-id'

# --- replies -----------------------------------------------------------------
post_json "/me/messages/$ID/createReply" '{"comment":"Following up on this."}'
RID=$(jr .id)
is "$status $(j --arg c "$CONV" '[.isDraft, .conversationId == $c, .subject, [.toRecipients[].emailAddress.address]]')" \
	'201 [true,true,"RE: Quick question, Bob",["bob@example.org"]]' 'createReply to my own sent mail: same conversation, RE:, to its recipients'
graph POST "/me/messages/$RID/send" -H 'Content-Length: 0'
is "$status $(tail -1 "$MOCK_SENT_LOG" | jq -c --arg m "$IMID" '[.headers["In-Reply-To"] == $m, .headers.References == $m, .subject]')" \
	'202 [true,true,"RE: Quick question, Bob"]' 'the sent reply carries In-Reply-To and References'

# --- delete --------------------------------------------------------------------
post_json /me/messages "$(draft_json 'Never sent' dave@example.org)" -H 'Prefer: IdType="ImmutableId"'
DID=$(jr .id)
graph DELETE "/me/messages/$DID"
s1="$status [$body]"
graph GET /me/mailFolders/deleteditems
DELETED=$(jr .id)
graph GET "/me/messages/$DID"
is "$s1 $status $(j --arg d "$DELETED" '[.parentFolderId == $d, .isDraft]')" '204 [] 200 [true,true]' \
	'DELETE a draft: 204, and it is in Deleted Items under the same id'
graph DELETE "/me/messages/$DID"
s1=$status
graph GET "/me/messages/$DID"
is "$s1 $(graph_error)" '204 404 ErrorItemNotFound' 'deleted again from Deleted Items: gone'

# --- faults ------------------------------------------------------------------
mock_ctl POST /_mock/faults '{"rules":[{"method":"POST","path":"/me/messages$","status":429,"retry_after":"2.128","count":1}]}' >/dev/null
post_json /me/messages "$(draft_json 'Second' carol@example.org)"
is "$(graph_error) $(hdr retry-after)" '429 TooManyRequests 2.128' '429 rule: Retry-After 2.128 verbatim'
post_json /me/messages "$(draft_json 'Second' carol@example.org)"
ID2=$(jr .id)
is "$status" 201 'the rule had count 1: the retry goes through'

n0=$(mock_sent_count)
mock_ctl POST /_mock/faults '{"rules":[{"path":"/send$","status":504,"after_send":true,"count":1}]}' >/dev/null
graph POST "/me/messages/$ID2/send" -H 'Content-Length: 0'
is "$(graph_error) $(( $(mock_sent_count) - n0 )) $(mock_sent_count $ME)" "504 UnknownError 1 $((n0 + 1))" \
	'504 after_send: the client hears 504 but the message was really sent'
visible "$ID2"
is "$(j .isDraft)" false 'after a 504 after_send the message is in Sent Items'

mock_ctl POST /_mock/faults '{"invalid_recipients":["nobody@example.org"]}' >/dev/null
post_json /me/messages "$(draft_json 'Third' nobody@example.org)"
ID3=$(jr .id)
graph POST "/me/messages/$ID3/send" -H 'Content-Length: 0'
is "$(graph_error) $(mock_sent_count)" "400 ErrorInvalidRecipients $((n0 + 1))" 'invalid recipient: 400 ErrorInvalidRecipients, nothing sent'
graph GET "/me/messages/$ID3"
is "$(j .isDraft)" true 'the refused message stays a draft'

mock_ctl POST /_mock/faults '{"rules":[{"path":"^/v1.0/me$","reset":true,"count":1}]}' >/dev/null
run curl -s -H "Authorization: Bearer $AT" "$MOCK_URL/v1.0/me"
like "$rc" '^(52|56)$' 'reset rule: the connection drops without an answer'

mock_ctl POST /_mock/faults '{"rules":[{"path":"^/v1.0/me$","reset":true,"refuse_ms":700,"count":1}]}' >/dev/null
run curl -s -H "Authorization: Bearer $AT" "$MOCK_URL/v1.0/me"
r1=$rc
run curl -s -H "Authorization: Bearer $AT" "$MOCK_URL/v1.0/me"
r2=$rc
sleep 1
run curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $AT" "$MOCK_URL/v1.0/me"
like "$r1 $r2 $out" '^(52|56) 7 200$' 'reset with refuse_ms: no answer, then connections refused (curl: 7), then served again'
is "$(mock_ctl POST /_mock/faults '{"rules":[{"path":"x","status":503,"refuse_ms":5}]}'; echo "rc=$?")" \
	'{"error":"refuse_ms goes with reset"}
rc=1' 'refuse_ms without reset is refused'

is "$(mock_ctl POST /_mock/faults '{"rules":[{"stauts":503}]}'; echo "rc=$?")" \
	'{"error":"unknown rule field(s): stauts"}
rc=1' 'a misspelt fault field is refused, not ignored'

mock_ctl POST /_mock/faults '{"latency_ms":1000}' >/dev/null
pids=
for i in 1 2 3 4 5; do
	curl -s -D "$T/ch$i" -o "$T/cb$i" -w '%{http_code}\n' -H "Authorization: Bearer $AT" \
		"$MOCK_URL/v1.0/me" >"$T/cs$i" &
	pids="$pids $!"
done
# shellcheck disable=SC2086
wait $pids
is "$(sort "$T"/cs? | tr '\n' ' ')" '200 200 200 200 429 ' 'five slow requests at once: the fifth is over MailboxConcurrency'
throttled=$(grep -l 429 "$T"/cs? | sed 's/.*cs//')
is "$(jq -c '[.error.code, .error.message]' "$T/cb$throttled") $(sed -n 's/^Retry-After: *//Ip' "$T/ch$throttled" | tr -d '\r')" \
	'["ApplicationThrottled","Application is over its MailboxConcurrency limit."] 1' 'the 429 is ApplicationThrottled with Retry-After'
mock_ctl POST /_mock/faults '{}' >/dev/null

# --- inbox delta -------------------------------------------------------------
for i in $(seq 12); do
	inject "{\"subject\":\"inbound $i\",\"from\":{\"emailAddress\":{\"address\":\"p$i@example.net\"}},\"body\":\"hello $i\"}" >/dev/null
done
graph GET /me/mailFolders/inbox/messages/delta -G --data-urlencode '$select=subject,from,internetMessageHeaders'
next=$(jr '."@odata.nextLink"')
is "$status $(j '[(.value|length), has("@odata.deltaLink"), (.value[0]|keys)]') ${next%%/v1.0/*}" \
	"200 [10,false,[\"@odata.etag\",\"@odata.type\",\"from\",\"id\",\"internetMessageHeaders\",\"subject\"]] $MOCK_URL" \
	'delta: a page of 10, $select honoured, @odata.nextLink on the mock itself'
ids1=$(j '[.value[].id]')
req GET "${next#"$MOCK_URL"}" -H "Authorization: Bearer $AT"
delta=$(jr '."@odata.deltaLink"')
is "$status $(j '[(.value|length), has("@odata.nextLink"), [.value[].subject]]') $(jq -n --argjson a "$ids1" --argjson b "$(j '[.value[].id]')" '$a + $b | unique | length')" \
	'200 [2,false,["inbound 11","inbound 12"]] 12' 'following nextLink: the last 2, then @odata.deltaLink; 12 distinct messages'
inject '{"subject":"late arrival","body":"new"}' >/dev/null
req GET "${delta#"$MOCK_URL"}" -H "Authorization: Bearer $AT"
delta2=$(jr '."@odata.deltaLink"')
is "$status $(j '[.value[].subject]')" '200 ["late arrival"]' 'following the deltaLink later: only what arrived since'
req GET "${delta2#"$MOCK_URL"}" -H "Authorization: Bearer $AT" -H 'Prefer: odata.maxpagesize=5'
is "$status $(j '.value|length') $(hdr preference-applied)" '200 0 odata.maxpagesize=5' 'nothing new: an empty page; Prefer odata.maxpagesize acknowledged'
mock_ctl POST /_mock/delta/invalidate >/dev/null
req GET "${delta2#"$MOCK_URL"}" -H "Authorization: Bearer $AT"
is "$(graph_error) $(hdr location | grep -c 'messages/delta?\$deltatoken=$')" '410 syncStateNotFound 1' \
	'invalidated delta token: 410 syncStateNotFound and a Location to start over'

# --- inbound mail: reply, auto reply, NDR, opt-out ----------------------------
inject "{\"kind\":\"reply\",\"in_reply_to\":\"$IMID\"}" >"$T/in"
is "$(jq -c --arg c "$CONV" --arg m "$IMID" '[.conversationId == $c, .subject, .from.emailAddress.address, (.internetMessageHeaders[] | select(.name == "In-Reply-To") | .value == $m), .isRead, .isDraft]' "$T/in")" \
	'[true,"RE: Quick question, Bob","bob@example.org",true,false,false]' 'injected reply: same conversation, RE:, In-Reply-To the original'
graph GET "/me/messages/$(jq -r .id "$T/in")" --data-urlencode '$select=internetMessageHeaders,body' -G
is "$status $(j '[(.internetMessageHeaders|map(.name)|index("References") != null), .body.contentType]')" '200 [true,"html"]' \
	'the injected reply reads back through Graph, headers on $select'
inject "{\"kind\":\"auto_reply\",\"in_reply_to\":\"$IMID\"}" >"$T/in"
is "$(jq -c '[.subject, (.internetMessageHeaders | map(select(.name == "Auto-Submitted" or .name == "X-Auto-Response-Suppress")) | map(.value))]' "$T/in")" \
	'["Automatic reply: Quick question, Bob",["auto-replied","All"]]' 'injected auto reply: Automatic reply:, Auto-Submitted, X-Auto-Response-Suppress'
inject "{\"kind\":\"ndr\",\"in_reply_to\":\"$IMID\",\"status\":\"5.1.1\"}" >"$T/in"
is "$(jq -c '[.from.emailAddress.name, .from.emailAddress.address, .subject]' "$T/in")" \
	'["Microsoft Outlook","MicrosoftExchange329e71ec88ae4615bbc36ab6ce41109e@example.com","Undeliverable: Quick question, Bob"]' \
	'injected NDR: from Microsoft Outlook, Undeliverable:'
graph GET "/me/messages/$(jq -r .id "$T/in")" -H 'Prefer: outlook.body-content-type="text"'
is "$(jr .body.contentType) $(jr .body.content | grep -cF -e "Remote Server returned '550 5.1.1 RESOLVER.ADR.RecipNotFound; not found'" -e "Message-ID: $IMID")" 'text 2' \
	'the NDR body names the 5.1.1 failure and the original Message-ID'
inject "{\"kind\":\"optout\",\"in_reply_to\":\"$IMID\",\"from\":\"bob@example.org\"}" >"$T/in"
is "$(jq -c '[.subject, (.bodyPreview|startswith("Please unsubscribe me"))]' "$T/in")" '["RE: Quick question, Bob",true]' \
	'injected opt-out: a reply asking to be unsubscribed'

# --- revocation, HTTP details, logs --------------------------------------------
mock_ctl POST "/_mock/users/$ME/revoke" >/dev/null
refresh "$RT"
is "$status $(oauth_error)" '400 ["invalid_grant",[50173]]' 'revoked refresh token: invalid_grant 50173'

printf '%s' "$(draft_json 'Chunked' dave@example.org)" >"$T/draft.json"
graph POST /me/messages -H 'Content-Type: application/json' -H 'Transfer-Encoding: chunked' \
	-H 'Expect: 100-continue' --data-binary @"$T/draft.json"
is "$status $(jr .subject) $(grep -c '^HTTP/1.1 100 Continue' "$T/h")" '201 Chunked 1' \
	'a chunked request body with Expect: 100-continue (answered 100 first)'

is "$(mock_ctl GET '/_mock/log?limit=1000' | jq -c '[.[] | select(.path == "/v1.0/me")][0] | [.method, .mailbox, .status, (.ms|type)]') $(jq -s -c '[length > 50, (.[0] | keys)]' "$MOCK_LOG")" \
	'["GET","alice@example.com",200,"number"] [true,["mailbox","method","ms","path","status","ts"]]' \
	'requests are logged in memory and to --log, one JSON line each'

mock_ctl POST /_mock/reset >/dev/null
is "$(mock_sent_count) $(wc -c <"$MOCK_SENT_LOG") $(mock_ctl GET /_mock/users)" '0 0 []' 'reset empties the state and the logs'

port_file=$MOCK_DIR/port
mock_stop
is "$? $([ -e "$port_file" ] || echo gone)" '0 gone' 'SIGTERM: clean exit 0, port file removed'

# --- a second mock: --auto-approve --------------------------------------------
mock_start --auto-approve bot@example.net || { echo 'Bail out! second mock-graph did not start'; exit 1; }
req POST "$LOGIN/devicecode" -d client_id=drip-test -d 'scope=Mail.Send'
poll "$(jr .device_code)"
AT=$(jr .access_token) no_refresh=$(j 'has("refresh_token")')
graph GET /me
is "$status $(jr .mail)" '200 bot@example.net' '--auto-approve: the first poll returns tokens for that mailbox'
is "$no_refresh" false 'no offline_access in the scope: no refresh token, as Entra'
req POST "$LOGIN/devicecode" -d client_id=drip-test -d 'scope=Mail.Send offline_access'
mock_ctl POST /_mock/faults '{"force_device":"expired_token"}' >/dev/null
poll "$(jr .device_code)"
is "$status $(oauth_error)" '400 ["expired_token",[70019]]' 'force_device expired_token: the next poll says expired_token'
