complete -c inbox-sync -f
complete -c inbox-sync -l identity -r -d 'read this mailbox only'
complete -c inbox-sync -s c -l customer -r -d "read this customer's mailboxes only"
complete -c inbox-sync -l max-seconds -r -d 'start nothing new after this many seconds'
complete -c inbox-sync -l opt-out-words -r -F -d 'opt-out words, one a line, instead of the default ones'
complete -c inbox-sync -l stop-on-auto-reply -d 'an automatic reply stops the sequence too'
complete -c inbox-sync -s d -l db -r -d 'database connection string'
complete -c inbox-sync -s q -l quiet -d 'say nothing but warnings and errors'
complete -c inbox-sync -s v -l verbose -d 'say what each message did'
complete -c inbox-sync -s V -l version -d 'print the version'
complete -c inbox-sync -s h -l help -d 'print the usage'
