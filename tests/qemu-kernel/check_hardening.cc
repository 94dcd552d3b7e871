// check_hardening TABLE ARCH (--config DOTCONFIG | --iso ISO): the built kernel's .config, or
// the built image's command line (image.json), against kernel-config/hardening.tsv. One line
// per mismatch; exit 1 if there is any, 0 with a count of the rows checked otherwise.
#include <cstdio>
#include <string>

#include "common/error.h"
#include "common/fs.h"
#include "image/image_info.h"
#include "kernel/hardening.h"
#include "kernel/kernel.h"

using namespace romimg;

int main(int argc, char** argv) {
    if (argc != 5 || (std::string(argv[3]) != "--config" && std::string(argv[3]) != "--iso")) {
        std::fprintf(stderr, "usage: check_hardening TABLE ARCH --config DOTCONFIG | --iso ISO\n");
        return 2;
    }
    try {
        const std::string arch = argv[2];
        auto rows = kernel::parse_hardening_table(fs::read_file(argv[1]), argv[1]);
        std::vector<std::string> bad;
        size_t checked = 0;
        if (std::string(argv[3]) == "--config") {
            bad = kernel::dotconfig_table_mismatches(rows, arch, kernel::parse_dotconfig(fs::read_file(argv[4])));
            checked = kernel::rows_for(rows, "kconfig", arch).size();
        } else {
            std::vector<std::string> wanted;
            for (const auto& r : kernel::rows_for(rows, "cmdline", arch)) wanted.push_back(kernel::cmdline_token(r));
            const std::string cmdline = image::read_image_info(argv[4]).cmdline;
            std::printf("command line: %s\n", cmdline.c_str());
            for (const auto& m : kernel::missing_cmdline_params(cmdline, wanted))
                bad.push_back("the image's command line lacks " + m);
            checked = wanted.size();
        }
        for (const auto& b : bad) std::printf("FAIL %s\n", b.c_str());
        if (checked == 0) {
            std::printf("FAIL no rows for %s in %s\n", arch.c_str(), argv[1]);
            return 1;
        }
        std::printf("%zu rows checked, %zu mismatches\n", checked, bad.size());
        return bad.empty() ? 0 : 1;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "check_hardening: error: %s\n", e.what());
        return 1;
    }
}
