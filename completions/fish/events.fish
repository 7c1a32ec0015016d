complete -c events -f
complete -c events -s c -l customer -r -d "only this customer's events"
complete -c events -l campaign -r -d "only this campaign's events"
complete -c events -s f -l follow -d 'keep printing new events as they are committed'
complete -c events -s s -l since -r -d 'only events at or after this time (RFC 3339)'
complete -c events -s t -l type -r -a 'sent failed bounced suppressed deferred replied unsubscribed auto_replied' -d 'only events of this type'
complete -c events -s d -l db -r -d 'database connection string'
complete -c events -s q -l quiet -d 'say nothing but errors'
complete -c events -s v -l verbose -d 'say more on standard error'
complete -c events -s V -l version -d 'print the version'
complete -c events -s h -l help -d 'print the usage'
