complete -c db-migrate -f
complete -c db-migrate -s d -l db -r -d 'database connection string'
complete -c db-migrate -l status -d 'print the schema version and pending migrations'
complete -c db-migrate -s q -l quiet -d 'print nothing on success'
complete -c db-migrate -s v -l verbose -d 'say what was applied'
complete -c db-migrate -s V -l version -d 'print the version'
complete -c db-migrate -s h -l help -d 'print the usage'
