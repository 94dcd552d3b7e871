# Sourced by the hostile tests that run a real `romimg build`.
# test_template FILE DESCRIPTION ROOTWRITE INCLUDE: a template for the static e2e test service
# (tests/e2e/rootwrite.c), whose jail also takes the include glob INCLUDE ("" for none).
test_template() {
    cat > "$1" <<TOML
description = "$2"
[service]
command = ["$3"]
user = "nobody"
group = "nogroup"
ports = [9099]
[ready]
check = "tcp:9099"
timeout = 60
[jail]
writable = [{ path = "/run/rootwrite", size = "1m" }]
include = [${4:+\"$4\"}]
TOML
}
