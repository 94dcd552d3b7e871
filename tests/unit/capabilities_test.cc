#include <catch2/catch.hpp>

#include <regex>
#include <set>

#include "common/fs.h"
#include "jail/capabilities.h"

using namespace romimg;

TEST_CASE("the builder's list of capabilities stripped in jails is romlock's own") {
    std::string src = fs::read_file(std::string(ROMIMG_SOURCE_DIR) + "/kernel-config/romlock/jail.c");
    std::set<std::string> kernel;
    std::regex entry(R"re(\{ CAP_[A-Z_]+, "(cap_[a-z_]+)" \})re");
    for (auto it = std::sregex_iterator(src.begin(), src.end(), entry); it != std::sregex_iterator(); ++it)
        kernel.insert((*it)[1]);
    const auto& builder = jail::romlock_stripped_capabilities();
    CHECK(kernel.size() >= 20);
    CHECK(std::set<std::string>(builder.begin(), builder.end()) == kernel);
}

TEST_CASE("stripped_in_jail names the template's capabilities that romlock will refuse") {
    CHECK(jail::stripped_in_jail({"CAP_NET_BIND_SERVICE", "CAP_SYS_ADMIN", "cap_mknod", "CAP_SETUID"}) ==
          std::vector<std::string>{"CAP_SYS_ADMIN", "cap_mknod"});
    CHECK(jail::stripped_in_jail({"CAP_NET_BIND_SERVICE", "CAP_CHOWN", "CAP_KILL"}).empty());
}
