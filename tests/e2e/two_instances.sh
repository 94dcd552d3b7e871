#!/usr/bin/env bash
# Two instances of one service in one image (issue 18): the shipped nginx template (this host's
# /etc/nginx, port 80) and nginx-b, a copy of it under another name with its own configuration,
# document root and port (8080), as an admin would write it. Each has its own jail; both are
# booted (BIOS CD, TCG) and probed through the forwards: ready, exec-locked, every probe of its
# template answered, each from its own root (e2e-boot's target mode).
set -uo pipefail
romimg=$1 boot=$2 shipped=$3 dir=$4
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root"; exit 77; }
rm -rf "$dir"; mkdir -p "$dir/templates" "$dir/nginx-b/www"
conf=$dir/nginx-b
echo "instance b" > "$conf/www/instance-b.txt"
echo "<p>nginx-b</p>" > "$conf/www/index.html"
cat > "$conf/nginx.conf" <<CONF
# nginx-b: the second nginx of e2e.two-instances.
worker_processes 1;
pid /run/nginx.pid;
error_log /var/log/nginx/error.log;
events { worker_connections 64; }
http {
    include /etc/nginx/mime.types;
    access_log /var/log/nginx/access.log;
    server {
        listen 8080;
        root $conf/www;
    }
}
CONF
chmod -R a+rX "$dir"
"$(dirname "$0")/derive_template.py" "$shipped/nginx.toml" "$dir/templates/nginx-b.toml" \
  'command = ["/usr/sbin/nginx", "-g"' "command = [\"/usr/sbin/nginx\", \"-c\", \"$conf/nginx.conf\", \"-g\"" \
  'ports = [80]' 'ports = [8080]' \
  'check = "tcp:80"' 'check = "tcp:8080"' \
  'probes = ["GET /no-such-page 404", "GET /index.nginx-debian.html 200"]' \
  'probes = ["GET /no-such-page 404", "GET /instance-b.txt 200", "GET /index.nginx-debian.html 404"]' \
  'paths = ["/etc/nginx", "/var/www"]' "paths = [\"$conf\"]" \
  'include = ["/etc/nginx/**", "/var/www/**", "/usr/share/nginx/**"]' "include = [\"$conf/**\", \"/etc/nginx/mime.types\"]" ||
  { echo "FAIL: the shipped nginx.toml changed: could not copy it as nginx-b"; exit 1; }
# The shipped nginx answers /instance-b.txt with 404: each instance serves its own root.
grep -q '"GET /index.nginx-debian.html 200"' "$shipped/nginx.toml" || { echo "FAIL: the shipped nginx.toml no longer probes its own page"; exit 1; }
iso=$dir/two.iso
ROMIMG_TEMPLATES=$dir/templates "$romimg" build nginx nginx-b --fast -o "$iso" --work "$dir/work" > "$dir/build.log" 2>&1 ||
  { tail -20 "$dir/build.log"; echo "FAIL: romimg build nginx nginx-b"; exit 1; }
grep -q "^boot it:  romimg boot $iso --forward 8081:80 --forward 8080:8080$" "$dir/build.log" ||
  { tail -5 "$dir/build.log"; echo "FAIL: the build's closing hint does not forward both instances"; exit 1; }
echo "ok   built: $(grep '^boot it:' "$dir/build.log")"
ROMIMG_TEMPLATES=$dir/templates "$boot" "$iso" target poweroff 256
status=$?
[ $status -ne 0 ] || rm -rf "$dir"
exit $status
