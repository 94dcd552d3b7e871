#!/usr/bin/env bash
# e2e.mariadb (issue 18): the shipped MariaDB template on a configured host, its databases on the
# data disk; rows committed over the network survive a clean power-off and a hard power cut; the
# test service dbgate, in a jail of its own, reads them over the appliance's loopback (e2e-data's
# database mode says what it checks).
#
# The configured host is the test's own, never the machine's: a datadir made here with
# mariadb-install-db, holding a database and a user that may log in over the network, as an
# admin would set one up. The template is the shipped one with only what points it there: the
# datadir (command line and [data]), bind-address 0.0.0.0 (Debian's is 127.0.0.1: reachable from
# the appliance's other jails only) and an SQL query as that user among its probes.
set -uo pipefail
romimg=$1 driver=$2 shipped=$3 dir=$4 test_templates=$5
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root"; exit 77; }
for p in mariadbd mariadb mariadb-install-db mariadb-admin; do
  command -v $p >/dev/null || { echo "FAIL: $p is missing (mariadb-server, mariadb-client; make deps)"; exit 1; }
done
rm -rf "$dir"; mkdir -p "$dir/templates"; chmod 755 "$dir"
datadir=$dir/host-mysql sock=$dir/host-run/mysqld.sock
# mariadbd runs as mysql: every dir above the datadir must let it through.
d=$dir; while [ "$d" != / ]; do [ -x "$d" ] && [ $(( 0$(stat -c %a "$d") & 1 )) -eq 1 ] ||
  { echo "SKIP: $d is not searchable by others; mariadbd (user mysql) cannot reach $datadir"; exit 77; }; d=$(dirname "$d"); done

install -d -o mysql -g mysql "$dir/host-run"
mariadb-install-db --user=mysql --datadir="$datadir" --auth-root-authentication-method=socket \
  --skip-test-db > "$dir/install-db.log" 2>&1 || { tail -20 "$dir/install-db.log"; echo "FAIL: mariadb-install-db"; exit 1; }
mariadbd --no-defaults --user=mysql --datadir="$datadir" --socket="$sock" --skip-networking \
  --pid-file="$dir/host-run/mysqld.pid" --innodb-use-native-aio=OFF > "$dir/host-mariadbd.log" 2>&1 &
host_pid=$!
trap 'kill $host_pid 2>/dev/null; wait $host_pid 2>/dev/null' EXIT
for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.2; done
mariadb --socket="$sock" -u root > "$dir/setup.log" 2>&1 <<'SQL' || { cat "$dir/setup.log"; tail "$dir/host-mariadbd.log"; echo "FAIL: setting up the test host's database"; exit 1; }
CREATE DATABASE shop;
CREATE USER 'e2e'@'%' IDENTIFIED BY 'e2e-password';
GRANT ALL ON shop.* TO 'e2e'@'%';
CREATE TABLE shop.orders (id INT AUTO_INCREMENT PRIMARY KEY, note VARCHAR(64) NOT NULL) ENGINE=InnoDB;
INSERT INTO shop.orders (note) VALUES ('from-the-host');
SQL
mariadb-admin --socket="$sock" -u root shutdown || { echo "FAIL: the test host's mariadbd did not shut down"; exit 1; }
wait $host_pid; trap - EXIT

# The shipped template, pointed at the test host's datadir (each change checked: a template
# that moved on must fail here, not test something else).
t=$dir/templates/mariadb.toml
"$(dirname "$0")/derive_template.py" "$shipped/mariadb.toml" "$t" \
  'command = ["/usr/sbin/mariadbd", ' "command = [\"/usr/sbin/mariadbd\", \"--datadir=$datadir\", \"--bind-address=0.0.0.0\", " \
  'paths = ["/var/lib/mysql"]' "paths = [\"$datadir\"]" \
  'probes = ["run mariadb-admin ' \
  "probes = [\"run mariadb --host={host} --port={port} --connect-timeout=20 --user=e2e --password=e2e-password --execute='SELECT note FROM shop.orders'\", \"run mariadb-admin " ||
  { echo "FAIL: the shipped mariadb.toml changed: could not point it at the test host"; exit 1; }

iso=$dir/mariadb.iso
ROMIMG_TEMPLATES=$dir/templates:$test_templates "$romimg" build mariadb dbgate --fast -o "$iso" --work "$dir/work" > "$dir/build.log" 2>&1 ||
  { tail -20 "$dir/build.log"; echo "FAIL: romimg build mariadb dbgate"; exit 1; }
grep -q "^boot it:  romimg boot $iso --forward 3306:3306 --forward 9099:9099 --data data.img$" "$dir/build.log" ||
  { tail -5 "$dir/build.log"; echo "FAIL: the build's closing hint does not forward 3306 and 9099 and attach a data disk"; exit 1; }
echo "ok   built: $(grep '^boot it:' "$dir/build.log")"
# romimg verify boots it with a scratch data disk: ready, every probe, the self-test.
"$romimg" verify "$iso" --timeout 300 > "$dir/verify.log" 2>&1 ||
  { grep -E "^FAIL" "$dir/verify.log"; tail -5 "$dir/verify.log"; echo "FAIL: romimg verify of the mariadb+dbgate image"; exit 1; }
grep -q "^a scratch data disk (1 GiB, empty) for mariadb$" "$dir/verify.log" ||
  { echo "FAIL: romimg verify did not attach a scratch data disk"; exit 1; }
echo "ok   romimg verify: $(grep -c '^PASS' "$dir/verify.log") checks passed, with a scratch data disk"
ROMIMG_TEMPLATES=$dir/templates:$test_templates "$driver" "$romimg" "$iso" "$dir" mariadb
status=$?
[ $status -ne 0 ] || rm -rf "$dir"
exit $status
