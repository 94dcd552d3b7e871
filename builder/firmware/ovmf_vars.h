// UEFI Secure Boot for QEMU: enroll the user's certificate into an edk2/OVMF NV variable store,
// offline (Debian 12 has no virt-fw-vars), so `romimg boot/verify --secure-boot` boot OVMF with
// Secure Boot on and only that key trusted.
//
// Takes an (empty) OVMF variable-store template such as Debian's
// /usr/share/OVMF/OVMF_VARS_4M.fd and writes authenticated variables
// PK, KEK and db (each an EFI_SIGNATURE_LIST of type EFI_CERT_X509_GUID)
// plus SecureBootEnable=1 and CustomMode=0 directly into the store, so that
// an OVMF Secure Boot build boots in User Mode with Secure Boot enabled.
//
// Output is deterministic: timestamps and monotonic counters are zero and all
// bytes outside the appended variable records are copied unchanged.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

namespace romimg::firmware {

// An EFI_GUID in its in-memory (mixed-endian) byte order, i.e. exactly the
// 16 bytes that appear in the firmware image.
using EfiGuid = std::array<std::uint8_t, 16>;

// Builds the 16 on-disk bytes of a GUID given in its textual field form
// (e.g. 8be4df61-93ca-11d2-aa0d-00e098032b8c -> {0x8be4df61, 0x93ca, 0x11d2,
// {0xaa,0x0d,...}}).
EfiGuid make_guid(std::uint32_t d1, std::uint16_t d2, std::uint16_t d3, std::array<std::uint8_t, 8> d4);

// SignatureOwner GUID written into every EFI_SIGNATURE_DATA by default
// (fixed so the output is deterministic).
EfiGuid default_signature_owner();

struct SecureBootKeys {
    std::vector<std::uint8_t> pk_der;   // Platform Key certificate (DER)
    std::vector<std::uint8_t> kek_der;  // Key Exchange Key certificate (DER)
    std::vector<std::uint8_t> db_der;   // allowed-signature database certificate (DER)
    EfiGuid owner = default_signature_owner();
};

// Validates `template_bytes` as an edk2 NV variable firmware volume with an
// authenticated variable store and returns a copy with the Secure Boot
// variables appended after any existing variable records.
// `template_name` is used in error messages.
// Throws Error if the template is not as expected, if one of
// the variables to be written already exists, or if the store is too small.
std::vector<std::uint8_t> enroll_secure_boot(std::span<const std::uint8_t> template_bytes, const SecureBootKeys& keys,
                                             const std::string& template_name);

// Reads `template_path`, enrolls the one certificate (DER) as PK, KEK and db, and writes
// `out_path` atomically.
void write_secure_boot_vars(const std::filesystem::path& template_path, const std::vector<std::uint8_t>& cert_der,
                            const std::filesystem::path& out_path);

}  // namespace romimg::firmware
