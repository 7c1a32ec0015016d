complete -c campaign-update -f
complete -c campaign-update -s d -l db -r -d 'database connection string'
complete -c campaign-update -s q -l quiet -d 'print nothing on success'
complete -c campaign-update -s v -l verbose -d 'say more on standard error'
complete -c campaign-update -s V -l version -d 'print the version'
complete -c campaign-update -s h -l help -d 'print the usage'
