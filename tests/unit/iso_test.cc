// Pure parts of the ISO stage: media sizes, labels, command lines, payload planning, boot
// loader configs, and the argv of every tool it runs.
#include <catch2/catch.hpp>

#include <algorithm>

#include "common/error.h"
#include "iso/iso.h"

using namespace romimg;
using namespace romimg::iso;

static bool contains(const std::vector<std::string>& v, const std::string& s) {
    return std::find(v.begin(), v.end(), s) != v.end();
}
// Index of `s` in argv, or -1.
static long index_of(const std::vector<std::string>& v, const std::string& s) {
    auto it = std::find(v.begin(), v.end(), s);
    return it == v.end() ? -1 : it - v.begin();
}

TEST_CASE("media capacities and the size check") {
    CHECK(media_capacity(Media::cd) == 737280000ULL);
    CHECK(media_capacity(Media::dvd) == 4700372992ULL);
    CHECK(media_capacity(Media::any) == 0);
    CHECK(parse_media("") == Media::any);
    CHECK(parse_media("cd") == Media::cd);
    CHECK(parse_media("dvd") == Media::dvd);
    CHECK_THROWS_AS(parse_media("bluray"), UsageError);

    CHECK_NOTHROW(check_media_size(Media::cd, 737280000ULL));
    CHECK_NOTHROW(check_media_size(Media::any, 1ULL << 40));
    try {
        check_media_size(Media::cd, 737282048ULL);
        FAIL("a CD one sector too large was accepted");
    } catch (const Error& e) {
        std::string m = e.what();
        CHECK(m.find("737282048 bytes") != std::string::npos);  // the actual size
        CHECK(m.find("737280000 bytes") != std::string::npos);  // the limit
        CHECK(m.find("--media dvd") != std::string::npos);
    }
    CHECK_THROWS_WITH(check_media_size(Media::dvd, 4700372993ULL),
                      Catch::Contains("4700372993 bytes") && Catch::Contains("DVD"));
}

TEST_CASE("volume labels are ISO9660 d-characters, 1 to 32 of them") {
    CHECK_NOTHROW(validate_label("ROMIMG"));
    CHECK_NOTHROW(validate_label("ROMIMG_2026_11"));
    CHECK_NOTHROW(validate_label(std::string(32, 'A')));
    CHECK_THROWS_AS(validate_label(""), UsageError);
    CHECK_THROWS_AS(validate_label(std::string(33, 'A')), UsageError);
    CHECK_THROWS_AS(validate_label("romimg"), UsageError);
    CHECK_THROWS_AS(validate_label("ROM IMG"), UsageError);
    CHECK_THROWS_AS(validate_label("ROM-IMG"), UsageError);
}

TEST_CASE("kernel command lines that both boot loaders pass through unchanged") {
    CHECK_NOTHROW(validate_cmdline("console=tty0 console=ttyS0,115200n8 ip=dhcp romlock.mode=enforce"));
    CHECK_NOTHROW(validate_cmdline("ip=10.0.2.15::10.0.2.2:255.255.255.0::eth0:off"));
    CHECK_NOTHROW(validate_cmdline(""));
    CHECK_THROWS_AS(validate_cmdline("a\nb"), UsageError);
    CHECK_THROWS_AS(validate_cmdline("init=/x;reboot"), UsageError);
    CHECK_THROWS_AS(validate_cmdline("x=\"a b\""), UsageError);
    CHECK_THROWS_AS(validate_cmdline("x=$root"), UsageError);
    CHECK_THROWS_AS(validate_cmdline(std::string(241, 'a')), UsageError);
}

TEST_CASE("payload planning normalizes, sorts and rejects conflicts") {
    auto plan = plan_payload({{"/h/b", "/srv//b.txt"}, {"/h/sq", "live/./root.sqfs"}, {"/h/a", "a"}});
    REQUIRE(plan.size() == 3);
    CHECK(plan[0].iso_path == "a");
    CHECK(plan[1].iso_path == "live/root.sqfs");
    CHECK(plan[1].source == "/h/sq");
    CHECK(plan[2].iso_path == "srv/b.txt");

    CHECK_THROWS_WITH(plan_payload({{"/x", "live/root.sqfs"}, {"/y", "/live/root.sqfs"}}),
                      Catch::Contains("given twice"));
    CHECK_THROWS_WITH(plan_payload({{"/x", "live"}, {"/y", "live/root.sqfs"}}),
                      Catch::Contains("is a file and also holds"));
    CHECK_THROWS_WITH(plan_payload({{"/x", "../etc/passwd"}}), Catch::Contains(".."));
    CHECK_THROWS_AS(plan_payload({{"/x", "/"}}), UsageError);
    CHECK_THROWS_AS(plan_payload({{"", "live/x"}}), UsageError);
    for (const char* reserved : {"boot/vmlinuz", "/boot/initrd.img", "isolinux/isolinux.cfg",
                                 "isolinux", "boot/efi.img"})
        CHECK_THROWS_WITH(plan_payload({{"/x", reserved}}), Catch::Contains("boot files"));
    CHECK_NOTHROW(plan_payload({{"/x", "boot/other"}}));
}

TEST_CASE("timestamps are UTC and in xorriso's format") {
    CHECK(iso_timestamp(0) == "1970010100000000");
    CHECK(iso_timestamp(1700000000) == "2023111422132000");
}

TEST_CASE("boot loader configs boot the one entry at once, on serial and VGA") {
    std::string iso = isolinux_cfg("console=ttyS0 ip=dhcp");
    CHECK(iso.find("SERIAL 0 115200\n") != std::string::npos);
    CHECK(iso.find("PROMPT 0\n") != std::string::npos);
    CHECK(iso.find("DEFAULT romimg\n") != std::string::npos);
    CHECK(iso.find("KERNEL /boot/vmlinuz\n") != std::string::npos);
    CHECK(iso.find("INITRD /boot/initrd.img\n") != std::string::npos);
    CHECK(iso.find("APPEND console=ttyS0 ip=dhcp\n") != std::string::npos);
    CHECK(iso.find("UI ") == std::string::npos);  // no menu program

    std::string grub = grub_cfg("MYLABEL", "console=ttyS0 ip=dhcp");
    CHECK(grub.find("set timeout=0\n") != std::string::npos);
    CHECK(grub.find("search --no-floppy --set=root --label MYLABEL\n") != std::string::npos);
    CHECK(grub.find("terminal_output console serial\n") != std::string::npos);
    CHECK(grub.find("  linux /boot/vmlinuz console=ttyS0 ip=dhcp\n") != std::string::npos);
    CHECK(grub.find("  initrd /boot/initrd.img\n") != std::string::npos);
    CHECK(std::count(grub.begin(), grub.end(), '{') == 1);  // one menu entry
}

TEST_CASE("the EFI FAT image has room for the binary, in whole MiB") {
    CHECK(efi_image_kib(0) == 1024);
    CHECK(efi_image_kib(667648) == 1024);
    CHECK(efi_image_kib(800 * 1024) == 2048);
    CHECK(efi_image_kib(3 * 1024 * 1024) % 1024 == 0);
    CHECK(efi_image_kib(3 * 1024 * 1024) >= 3 * 1024 + 256);
}

TEST_CASE("GRUB and FAT tools are invoked reproducibly") {
    auto tar = memdisk_tar_command("/w/memdisk", "/w/memdisk.tar", 1700000000, "/w/log");
    CHECK(tar.argv[0] == "tar");
    CHECK(contains(tar.argv, "--mtime=@1700000000"));
    CHECK(contains(tar.argv, "--sort=name"));
    CHECK(contains(tar.argv, "--numeric-owner"));
    CHECK(tar.log == "/w/log");

    auto mk = grub_mkimage_command("/w/memdisk.tar", "/w/BOOTX64.EFI", "/w/log");
    CHECK(mk.argv[0] == "grub-mkimage");
    CHECK(contains(mk.argv, "--format=x86_64-efi"));
    CHECK(contains(mk.argv, "--prefix=(memdisk)/boot/grub"));
    CHECK(contains(mk.argv, "--memdisk=/w/memdisk.tar"));
    for (const char* mod : {"memdisk", "tar", "normal", "search", "iso9660", "linux", "serial"})
        CHECK(contains(mk.argv, mod));

    auto fat = mkfs_vfat_command("/w/efi.img", 1024, "/w/log");
    CHECK(fat.argv == std::vector<std::string>{"mkfs.vfat", "--invariant", "-i", "524f4d49", "-n",
                                               "ROMIMG_EFI", "-C", "/w/efi.img", "1024"});
    auto md = mmd_command("/w/efi.img", {"EFI", "EFI/BOOT"}, 42, "/w/log");
    CHECK(md.argv == std::vector<std::string>{"mmd", "-i", "/w/efi.img", "::/EFI", "::/EFI/BOOT"});
    CHECK(contains(std::vector<std::string>{md.env[0].first + "=" + md.env[0].second},
                   "SOURCE_DATE_EPOCH=42"));
    auto cp = mcopy_command("/w/efi.img", "/w/BOOTX64.EFI", "EFI/BOOT/BOOTX64.EFI", 42, "/w/log");
    CHECK(cp.argv == std::vector<std::string>{"mcopy", "-m", "-i", "/w/efi.img", "/w/BOOTX64.EFI",
                                              "::/EFI/BOOT/BOOTX64.EFI"});
}

static IsoLayout sample_layout() {
    IsoLayout l;
    l.files = {{"/h/vmlinuz", "boot/vmlinuz"}, {"/h/a=b", "live/root.sqfs"}};
    l.efi_image = "/w/efi.img";
    l.label = "ROMIMG";
    l.epoch = 1700000000;
    return l;
}

TEST_CASE("xorriso: four boot ways, fixed dates, graft points") {
    auto c = xorriso_command(sample_layout(), "/out/x.iso", "/w/log");
    const auto& a = c.argv;
    REQUIRE(a[0] == "xorriso");
    // Dates: native commands before -as mkisofs, plus the volume dates inside it.
    long as = index_of(a, "-as");
    REQUIRE(as > 0);
    long vd = index_of(a, "all_file_dates");
    CHECK((vd > 0 && vd < as && a[vd + 1] == "=1700000000"));
    long uuid = index_of(a, "uuid");
    CHECK((uuid > 0 && uuid < as && a[uuid + 1] == "2023111422132000"));
    CHECK(contains(a, "--modification-date=2023111422132000"));
    CHECK(std::find(c.env.begin(), c.env.end(),
                    std::make_pair(std::string("SOURCE_DATE_EPOCH"), std::string("1700000000"))) !=
          c.env.end());
    // Label.
    CHECK(a[index_of(a, "-volid") + 1] == "ROMIMG");
    // BIOS CD.
    CHECK(a[index_of(a, "-eltorito-boot") + 1] == "isolinux/isolinux.bin");
    CHECK(contains(a, "-boot-info-table"));
    // BIOS USB.
    CHECK(a[index_of(a, "-isohybrid-mbr") + 1] == "/usr/lib/ISOLINUX/isohdpfx.bin");
    // UEFI USB: ESP appended as partition 2; UEFI CD: the same bytes as El Torito image 2.
    long ap = index_of(a, "-append_partition");
    REQUIRE(ap > 0);
    CHECK(a[ap + 1] == "2");
    CHECK(a[ap + 2] == "0xef");
    CHECK(a[ap + 3] == "/w/efi.img");
    long alt = index_of(a, "-eltorito-alt-boot");
    CHECK((alt > 0 && a[alt + 1] == "-e" && a[alt + 2] == "--interval:appended_partition_2:all::"));
    // Output and graft points ('=' in a host path escaped), in the order given.
    CHECK(a[index_of(a, "-output") + 1] == "/out/x.iso");
    CHECK(a[a.size() - 2] == "/boot/vmlinuz=/h/vmlinuz");
    CHECK(a[a.size() - 1] == "/live/root.sqfs=/h/a\\=b");
    CHECK_FALSE(contains(a, "-print-size"));

    // Epoch 0 would mean "keep the host's mtimes" to xorriso.
    auto zero = sample_layout();
    zero.epoch = 0;
    auto z = xorriso_command(zero, "/out/x.iso", "/w/log").argv;
    CHECK(z[index_of(z, "all_file_dates") + 1] == "=1");
    CHECK(contains(z, "--modification-date=1970010100000000"));

    auto size = xorriso_command(sample_layout(), "", "/w/log", true);
    CHECK(contains(size.argv, "-print-size"));
    CHECK_FALSE(contains(size.argv, "-output"));
}
