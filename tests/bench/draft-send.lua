-- draft-send.lua: wrk script for the mock's own capacity, no database:
-- each connection creates a draft (POST /me/messages, the JSON drip sends),
-- then sends it (POST /me/messages/{id}/send), and again. The bearer token
-- comes from the environment (BENCH_TOKEN); "done" counts 202 answers.
-- BENCH_SEND_CLOSE=1 closes the connection after each send, so that every
-- send goes on a new connection, as drip's did until 5c4a02f
-- (CURLOPT_FRESH_CONNECT); now drip's reuse connections, as wrk's do.
local token = os.getenv("BENCH_TOKEN")
local body = os.getenv("BENCH_BODY") or '{"subject":"Bench","body":{"contentType":"html","content":"<p>Hello</p>"},"toRecipients":[{"emailAddress":{"address":"x@example.org"}}]}'
local pending = {}
local send_headers = {}
local threads = {}
sent = 0
other = 0

function setup(thread)
	table.insert(threads, thread)
end

function init(args)
	wrk.headers["Authorization"] = "Bearer " .. token
	wrk.headers["Content-Type"] = "application/json"
	wrk.headers["Accept"] = "application/json"
	wrk.headers["Prefer"] = 'IdType="ImmutableId"'
	for k, v in pairs(wrk.headers) do send_headers[k] = v end
	send_headers["Content-Type"] = nil
	send_headers["Content-Length"] = "0"
	if os.getenv("BENCH_SEND_CLOSE") == "1" then
		send_headers["Connection"] = "close"
	end
end

function request()
	local id = table.remove(pending)
	if id then
		return wrk.format("POST", "/v1.0/me/messages/" .. id .. "/send", send_headers, "")
	end
	return wrk.format("POST", "/v1.0/me/messages", nil, body)
end

function response(status, headers, resp)
	if status == 201 then
		local id = resp:match('"id":"([^"]+)"')
		if id then table.insert(pending, id) end
	elseif status == 202 then
		sent = sent + 1
	else
		other = other + 1
	end
end

function done(summary, latency, requests)
	local total, bad = 0, 0
	for _, t in ipairs(threads) do
		total = total + t:get("sent")
		bad = bad + t:get("other")
	end
	io.write(string.format("sent %d failed %d seconds %.3f\n", total, bad,
	    summary.duration / 1e6))
end
