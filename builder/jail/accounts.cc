#include "jail/accounts.h"

#include <algorithm>
#include <sstream>

#include <fmt/format.h>

#include "common/error.h"
#include "common/strings.h"

namespace romimg::jail {

std::vector<PasswdEntry> parse_passwd(const std::string& text) {
    std::vector<PasswdEntry> out;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
        auto f = split(line, ':');
        if (f.size() != 7 || f[0].empty() || f[0][0] == '#') continue;
        out.push_back({f[0], (unsigned)std::stoul(f[2]), (unsigned)std::stoul(f[3]), f[4], f[5], f[6]});
    }
    return out;
}

std::vector<GroupEntry> parse_group(const std::string& text) {
    std::vector<GroupEntry> out;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
        auto f = split(line, ':');
        if (f.size() != 4 || f[0].empty() || f[0][0] == '#') continue;
        GroupEntry g{f[0], (unsigned)std::stoul(f[2]), {}};
        if (!f[3].empty()) g.members = split(f[3], ',');
        out.push_back(std::move(g));
    }
    return out;
}

JailAccounts jail_accounts(const std::string& passwd_text, const std::string& group_text,
                           const std::string& user, const std::string& group) {
    auto users = parse_passwd(passwd_text);
    auto groups = parse_group(group_text);
    auto u = std::find_if(users.begin(), users.end(), [&](const PasswdEntry& e) { return e.name == user; });
    if (u == users.end())
        throw Error(fmt::format("user '{}' does not exist on this host (the service runs as it: install "
                                "the package that creates it, or create it)", user));
    JailAccounts a;
    a.uid = u->uid;
    a.gid = u->gid;
    if (!group.empty()) {
        auto g = std::find_if(groups.begin(), groups.end(), [&](const GroupEntry& e) { return e.name == group; });
        if (g == groups.end()) throw Error(fmt::format("group '{}' does not exist on this host", group));
        a.gid = g->gid;
    }
    a.passwd = fmt::format("{}:x:{}:{}:{}:{}:/usr/sbin/nologin\n", u->name, u->uid, a.gid, u->gecos, u->home);
    for (const auto& g : groups) {
        bool primary = g.gid == a.gid;
        bool member = std::find(g.members.begin(), g.members.end(), user) != g.members.end();
        if (!primary && !member) continue;
        a.group += fmt::format("{}:x:{}:{}\n", g.name, g.gid, member ? user : "");
        if (!primary) a.groups.push_back(g.gid);
    }
    return a;
}

}  // namespace romimg::jail
