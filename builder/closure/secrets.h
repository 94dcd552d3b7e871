// The one rule for secrets, shared by the jails (closure.cc) and content layers (content/pack.cc):
// host secrets (/etc/shadow, SSH host keys, root's files, sudoers) never go into an image, and a
// PEM private key goes in only when asked for (a jail: the service read it; content:
// --content-allow-private), flagged. Pure.
#pragma once

#include <string>
#include <string_view>

namespace romimg::closure {

// The secret glob that `path` (absolute, as the jail sees it) or one of its ancestors matches;
// "" if none.
std::string secret_glob(const std::string& path);

// The secret glob whose last component matches `name` (a file name, no '/'), wherever the file
// lies: "shadow", "ssh_host_rsa_key", "sudoers". "" if none. For content, whose files land
// under any PATH: a copy of /etc/shadow named shadow is still a secret.
std::string secret_name_glob(const std::string& name);

// A PEM private key: its first bytes (up to 64 KiB) open with a PEM private key header, or the
// file is named like one (.key, .pem, or under a directory called private) and they hold
// "PRIVATE KEY-----". The closure reads only files named like one (the cost of reading every
// file's head); content, whose bytes are read anyway, passes every file's head.
bool named_like_private_key(const std::string& path);
bool private_key(const std::string& path, std::string_view head);
constexpr size_t kPrivateKeyHead = 1u << 16;
constexpr size_t kPrivateKeyMaxSize = 1u << 20;  // larger files are not read

}  // namespace romimg::closure
