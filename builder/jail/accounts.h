// Minimal /etc/passwd and /etc/group for a jail: only the users and groups the service runs as
// (seed 003: "copy only the needed lines of /etc/passwd"). Pure: text in, text out.
#pragma once

#include <string>
#include <vector>

namespace romimg::jail {

struct PasswdEntry {
    std::string name;
    unsigned uid = 0, gid = 0;
    std::string gecos, home, shell;
};
struct GroupEntry {
    std::string name;
    unsigned gid = 0;
    std::vector<std::string> members;
};

std::vector<PasswdEntry> parse_passwd(const std::string& text);
std::vector<GroupEntry> parse_group(const std::string& text);

struct JailAccounts {
    std::string passwd;  // file contents
    std::string group;
    unsigned uid = 0, gid = 0;
    std::vector<unsigned> groups;  // supplementary
};

// The service user (and its primary group, or `group` if given) plus the groups it is a member
// of, with member lists reduced to that user. The password field is always "x" and the shell
// /usr/sbin/nologin: nothing in a jail logs in. Throws Error naming a missing user or group.
JailAccounts jail_accounts(const std::string& passwd_text, const std::string& group_text,
                           const std::string& user, const std::string& group = "");

}  // namespace romimg::jail
