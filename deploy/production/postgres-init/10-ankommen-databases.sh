#!/bin/bash
# One login role and one database per service, so a service can read and write only its own data
# (each service owns its schema; ARCHITECTURE.md). Also a role for Temporal, which creates its own
# databases (temporal, temporal_visibility) on first start. The official postgres image runs this
# once, when the data volume is initialised; later password changes are made with ALTER ROLE.
set -euo pipefail

create_service_database() {
  local name="$1" password="$2"
  psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
    -v name="$name" -v password="$password" <<'SQL'
CREATE ROLE :"name" LOGIN PASSWORD :'password';
CREATE DATABASE :"name" OWNER :"name" ENCODING 'UTF8';
REVOKE ALL ON DATABASE :"name" FROM PUBLIC;
SQL
}

create_service_database intake    "${DB_PASSWORD_INTAKE:?}"
create_service_database casework  "${DB_PASSWORD_CASEWORK:?}"
create_service_database funding   "${DB_PASSWORD_FUNDING:?}"
create_service_database reporting "${DB_PASSWORD_REPORTING:?}"

psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v password="${DB_PASSWORD_TEMPORAL:?}" <<'SQL'
CREATE ROLE temporal LOGIN CREATEDB PASSWORD :'password';
SQL
