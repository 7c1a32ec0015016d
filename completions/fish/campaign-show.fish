complete -c campaign-show -f
complete -c campaign-show -s c -l customer -r -d 'every campaign of this customer'
complete -c campaign-show -s d -l db -r -d 'database connection string'
complete -c campaign-show -s q -l quiet -d 'print nothing on success'
complete -c campaign-show -s v -l verbose -d 'say more on standard error'
complete -c campaign-show -s V -l version -d 'print the version'
complete -c campaign-show -s h -l help -d 'print the usage'
