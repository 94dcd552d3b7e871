#!/usr/bin/env bash
# e2e.postgresql (issue 18): the shipped PostgreSQL template on a configured host, its databases
# on the data disk; rows committed over the network survive a clean power-off and a hard power
# cut (e2e-data's database mode says what it checks).
#
# The configured host is the test's own, never the machine's cluster: a data directory made here
# with initdb (its postgresql.conf and pg_hba.conf inside it), holding a database and a role that
# may log in over the network with a password. The template is the shipped one with only what
# points it there: the data directory (command line and [data]), listen_addresses and an SQL
# query as that role among its probes.
set -uo pipefail
romimg=$1 driver=$2 shipped=$3 dir=$4 test_templates=$5
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root"; exit 77; }
bin=/usr/lib/postgresql/15/bin
for p in $bin/postgres $bin/initdb $bin/pg_ctl; do
  [ -x $p ] || { echo "FAIL: $p is missing (postgresql-15; make deps)"; exit 1; }
done
for p in psql pg_isready; do command -v $p >/dev/null || { echo "FAIL: $p is missing (postgresql-client; make deps)"; exit 1; }; done
rm -rf "$dir"; mkdir -p "$dir/templates"; chmod 755 "$dir"
datadir=$dir/host-pg
d=$dir; while [ "$d" != / ]; do [ $(( 0$(stat -c %a "$d") & 1 )) -eq 1 ] ||
  { echo "SKIP: $d is not searchable by others; postgres cannot reach $datadir"; exit 77; }; d=$(dirname "$d"); done

install -d -o postgres -g postgres -m 700 "$datadir"
install -d -o postgres -g postgres "$dir/host-run"
pw=$dir/host-run/pw; echo e2e-password > "$pw"; chown postgres "$pw"
runuser -u postgres -- $bin/initdb -D "$datadir" --auth-local=peer --auth-host=scram-sha-256 --username=postgres \
  > "$dir/initdb.log" 2>&1 || { tail -20 "$dir/initdb.log"; echo "FAIL: initdb"; exit 1; }
echo "host all all 0.0.0.0/0 scram-sha-256" >> "$datadir/pg_hba.conf"
runuser -u postgres -- $bin/pg_ctl -D "$datadir" -o "-c listen_addresses='' -c unix_socket_directories=$dir/host-run" \
  -l "$dir/host-run/postgres.log" -w start > /dev/null || { tail "$dir/host-run/postgres.log"; echo "FAIL: the test host's postgres did not start"; exit 1; }
runuser -u postgres -- psql --no-psqlrc -v ON_ERROR_STOP=1 -h "$dir/host-run" -d postgres > "$dir/setup.log" 2>&1 <<'SQL' ||
CREATE ROLE e2e LOGIN PASSWORD 'e2e-password';
CREATE DATABASE shop OWNER e2e;
\c shop
CREATE TABLE orders (id SERIAL PRIMARY KEY, note TEXT NOT NULL);
ALTER TABLE orders OWNER TO e2e;
INSERT INTO orders (note) VALUES ('from-the-host');
SQL
  { cat "$dir/setup.log"; echo "FAIL: setting up the test host's database"; runuser -u postgres -- $bin/pg_ctl -D "$datadir" -m fast stop; exit 1; }
runuser -u postgres -- $bin/pg_ctl -D "$datadir" -m fast -w stop > /dev/null || { echo "FAIL: the test host's postgres did not stop"; exit 1; }

# The shipped template, pointed at the test host's data directory (each change checked: a
# template that moved on must fail here, not test something else).
t=$dir/templates/postgresql.toml
"$(dirname "$0")/derive_template.py" "$shipped/postgresql.toml" "$t" \
  '"-D", "/var/lib/postgresql/15/main",
           "-c", "config_file=/etc/postgresql/15/main/postgresql.conf",' \
  "\"-D\", \"$datadir\", \"-c\", \"listen_addresses=*\"," \
  'paths = ["/var/lib/postgresql/15/main"]' "paths = [\"$datadir\"]" \
  'probes = ["run pg_isready ' \
  "probes = [\"run psql 'host={host} port={port} user=e2e dbname=shop password=e2e-password connect_timeout=20' --no-psqlrc --command='SELECT note FROM orders'\", \"run pg_isready " ||
  { echo "FAIL: the shipped postgresql.toml changed: could not point it at the test host"; exit 1; }

iso=$dir/postgresql.iso
ROMIMG_TEMPLATES=$dir/templates:$test_templates "$romimg" build postgresql --fast -o "$iso" --work "$dir/work" > "$dir/build.log" 2>&1 ||
  { tail -20 "$dir/build.log"; echo "FAIL: romimg build postgresql"; exit 1; }
grep -q "^boot it:  romimg boot $iso --forward 5432:5432 --data data.img$" "$dir/build.log" ||
  { tail -5 "$dir/build.log"; echo "FAIL: the build's closing hint does not forward 5432 and attach a data disk"; exit 1; }
echo "ok   built: $(grep '^boot it:' "$dir/build.log")"
ROMIMG_TEMPLATES=$dir/templates:$test_templates "$driver" "$romimg" "$iso" "$dir" postgresql
status=$?
[ $status -ne 0 ] || rm -rf "$dir"
exit $status
