// Signed boot (docs/verity.md): the user's key and certificate, checked before any work; the
// PKCS#7 signatures of content layers' root hashes (checked by the kernel against the firmware's
// db); the unified kernel image (systemd's EFI stub + kernel + initramfs + command line) signed
// with sbsign, which the firmware checks under Secure Boot. Signing is the last step: what is
// signed is reproducible, and so are the signatures (RSA PKCS#1 v1.5, no signing time).
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "common/command.h"

namespace romimg::sign {

inline constexpr const char* kUkiStub = "/usr/lib/systemd/boot/efi/linuxx64.efi.stub";

struct Signer {
    std::filesystem::path key, cert;
    std::string subject;                // the certificate's subject, one line
    std::string fingerprint;            // sha256 of its DER, hex
    std::vector<uint8_t> cert_der;
};

// Reads and checks the pair before any work: both readable, the key an unencrypted RSA private
// key in PEM (a password-protected one is refused: romimg has no way to ask for it), the
// certificate X.509 (PEM or DER) with the key's public half. An expired or not yet valid
// certificate is a warning (firmware does not check dates), anything else an Error naming the
// file and the fix.
Signer load_signer(const std::filesystem::path& key, const std::filesystem::path& cert);
// The certificate alone (for `romimg boot/verify --secure-boot --sign-cert`).
std::vector<uint8_t> load_certificate(const std::filesystem::path& cert, std::string* subject = nullptr);

// PKCS#7 (DER) of `data`: detached, no attributes, no certificates, the form dm-verity's
// root_hash_sig_key_desc takes (the kernel verifies it against its keyrings).
std::string pkcs7_sign(const Signer& s, const std::string& data);

// The section layout of a UKI for systemd 252's stub: .osrel, .cmdline, then .linux at 32 MiB
// and .initrd right after the kernel (1 MiB aligned). `-p` keeps the stub's PE timestamp, so
// equal inputs give equal bytes.
Command uki_command(const std::filesystem::path& stub, const std::filesystem::path& osrel,
                    const std::filesystem::path& cmdline, const std::filesystem::path& kernel, uint64_t kernel_bytes,
                    const std::filesystem::path& initrd, const std::filesystem::path& out);
Command sbsign_command(const Signer& s, const std::filesystem::path& in, const std::filesystem::path& out);

// The signed UKI at `out` (made under `dir`): kernel, initramfs and command line in one PE
// signed by `s`. When `dir` already holds it signed by the same certificate from the same bytes
// (a content release in the same work dir), it is kept as it is: false; true if signed now.
bool make_signed_uki(const Signer& s, const std::filesystem::path& kernel, const std::filesystem::path& initrd,
                     const std::string& cmdline, const std::filesystem::path& dir, const std::filesystem::path& out,
                     const std::filesystem::path& log);

}  // namespace romimg::sign
