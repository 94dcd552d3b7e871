// Where romimg's own files are: the data (jail templates, kernel-config/, overlays/) and the
// programs it packs into images (romimg-init, romimg-selftest, per target). Found from where
// the running binary is, never from a path compiled into it:
//   - run from its build tree: the build dir holds `romimg-build-tree` (written by CMake),
//     which names the source dir (the data) and the build's program dir;
//   - installed: PREFIX/bin/romimg finds PREFIX/share/romimg (data, with a VERSION file that
//     must match this binary) and PREFIX/lib/romimg (programs).
// $ROMIMG_DATA_DIR and $ROMIMG_LIB_DIR override either (a copied binary, a relocated tree).
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

namespace romimg::install {

struct Layout {
    std::filesystem::path data;      // jail-templates/, kernel-config/, overlays/
    std::filesystem::path programs;  // romimg-init, romimg-init-i386, romimg-selftest, ...
    std::string how;                 // "build tree /x/build", "installed in /usr", "ROMIMG_DATA_DIR"
};

// The layout of the running romimg, resolved once. Throws Error naming the missing or
// mismatched directory, this romimg's version and the fix.
const Layout& layout();

// Pure resolution, for tests: `exe` is the binary's real path; `data_env`/`lib_env` the
// overrides ("" when unset).
Layout resolve(const std::filesystem::path& exe, const std::string& data_env, const std::string& lib_env);

std::filesystem::path templates_dir();      // data/jail-templates
std::filesystem::path kernel_config_dir();  // data/kernel-config
std::filesystem::path overlays_dir();       // data/overlays
std::filesystem::path program(const std::string& name);  // programs/NAME
// Where the romimg-kernel-* packages put their kernels: programs/kernel/<key>/ (read-only).
std::filesystem::path packaged_kernels_dir();
// Why a program romimg packs is not at `where`, with the fix: "run `make`" in a build tree,
// reinstall romimg when installed.
std::string missing_program(const std::string& name, const std::filesystem::path& where);

// This romimg: its version (CMake project version), the commit it was built from ("unknown"
// outside git), and that commit's time: the default SOURCE_DATE_EPOCH of romimg's own files,
// the same in every checkout and install of one commit.
const char* version();
const char* commit();
int64_t release_time();

// "romimg 0.2.0 (commit 1234abcd5678, 2026-12-07)"
std::string version_line();

}  // namespace romimg::install
