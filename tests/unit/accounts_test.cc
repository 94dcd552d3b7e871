#include <catch2/catch.hpp>

#include "common/error.h"
#include "jail/accounts.h"

using namespace romimg::jail;

static const char* kPasswd =
    "root:x:0:0:root:/root:/bin/bash\n"
    "daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n"
    "www-data:x:33:33:www-data:/var/www:/usr/sbin/nologin\n"
    "alice:x:1000:1000:Alice,,,:/home/alice:/bin/bash\n";
static const char* kGroup =
    "root:x:0:\n"
    "adm:x:4:alice,www-data\n"
    "www-data:x:33:\n"
    "ssl-cert:x:112:www-data,alice\n"
    "alice:x:1000:\n";

TEST_CASE("jail_accounts keeps only the service user and its groups") {
    JailAccounts a = jail_accounts(kPasswd, kGroup, "www-data");
    CHECK(a.uid == 33);
    CHECK(a.gid == 33);
    CHECK(a.passwd == "www-data:x:33:33:www-data:/var/www:/usr/sbin/nologin\n");
    CHECK(a.group == "adm:x:4:www-data\nwww-data:x:33:\nssl-cert:x:112:www-data\n");
    CHECK(a.groups == std::vector<unsigned>{4, 112});
    CHECK(a.passwd.find("root") == std::string::npos);
    CHECK(a.group.find("alice") == std::string::npos);
}

TEST_CASE("jail_accounts: explicit group, unknown user or group") {
    JailAccounts a = jail_accounts(kPasswd, kGroup, "alice", "adm");
    CHECK(a.gid == 4);
    CHECK(a.passwd == "alice:x:1000:4:Alice,,,:/home/alice:/usr/sbin/nologin\n");
    CHECK_THROWS_WITH(jail_accounts(kPasswd, kGroup, "nobody-here"), Catch::Contains("user 'nobody-here' does not exist"));
    CHECK_THROWS_WITH(jail_accounts(kPasswd, kGroup, "alice", "wheel"), Catch::Contains("group 'wheel' does not exist"));
}

TEST_CASE("parsers skip malformed lines") {
    CHECK(parse_passwd("bad line\nok:x:1:2:g:/h:/s\n").size() == 1);
    CHECK(parse_group("x:y\ng:x:5:a,b\n")[0].members == std::vector<std::string>{"a", "b"});
}
