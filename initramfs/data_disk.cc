#include "data_disk.h"

namespace romimg::appliance {

bool ext_volume_label(const std::string& sb, std::string& label) {
    // struct ext4_super_block: s_magic (le16) at 56, s_volume_name[16] at 120.
    if (sb.size() < 136) return false;
    if ((unsigned char)sb[56] != 0x53 || (unsigned char)sb[57] != 0xEF) return false;
    label.assign(sb, 120, 16);
    label.resize(label.find('\0') == std::string::npos ? 16 : label.find('\0'));
    return true;
}

std::string data_dir_on_disk(const Service& s, const std::string& path) {
    return std::string(kDataMount) + "/" + s.name + path.substr(s.root.size());
}

DiskVerdict judge_disk(const std::vector<std::string>& root_entries, bool has_identity, const std::string& identity,
                       const std::string& hostname) {
    if (has_identity) return identity == hostname ? DiskVerdict::ours : DiskVerdict::foreign;
    for (const auto& e : root_entries)
        if (e != "lost+found" && e != "." && e != "..") return DiskVerdict::not_romimg;
    return DiskVerdict::fresh;
}

bool fsck_allows_mount(int status) { return status >= 0 && status <= 2; }

}  // namespace romimg::appliance
