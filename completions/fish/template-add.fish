complete -c template-add -f
complete -c template-add -s c -l campaign -r -d 'the campaign to add steps to'
complete -c template-add -s r -l replace -d 'replace the steps named by step while unsent'
complete -c template-add -s d -l db -r -d 'database connection string'
complete -c template-add -s q -l quiet -d 'print nothing on success'
complete -c template-add -s v -l verbose -d 'say more on standard error'
complete -c template-add -s V -l version -d 'print the version'
complete -c template-add -s h -l help -d 'print the usage'
