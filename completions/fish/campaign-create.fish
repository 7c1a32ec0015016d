complete -c campaign-create -f
complete -c campaign-create -s d -l db -r -d 'database connection string'
complete -c campaign-create -s q -l quiet -d 'print nothing on success'
complete -c campaign-create -s v -l verbose -d 'say more on standard error'
complete -c campaign-create -s V -l version -d 'print the version'
complete -c campaign-create -s h -l help -d 'print the usage'
