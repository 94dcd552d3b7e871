// See ovmf_vars.h.
//
// Layout references (edk2):
//   MdePkg/Include/Pi/PiFirmwareVolume.h        EFI_FIRMWARE_VOLUME_HEADER
//   MdeModulePkg/Include/Guid/VariableFormat.h  VARIABLE_STORE_HEADER,
//                                                AUTHENTICATED_VARIABLE_HEADER
//   MdePkg/Include/Guid/ImageAuthentication.h   EFI_SIGNATURE_LIST/DATA
//   SecurityPkg/Library/AuthVariableLib/AuthVariableLib.c
//       (SetupMode/SecureBoot are derived at boot from PK + SecureBootEnable)
#include "firmware/ovmf_vars.h"

#include <algorithm>
#include <cstring>
#include <iterator>
#include <string_view>
#include <system_error>

#include "common/error.h"
#include "common/fs.h"

namespace romimg::firmware {
namespace {

// ---------------------------------------------------------------- constants
constexpr std::uint32_t kFvSignature = 0x4856465f;  // "_FVH"
constexpr std::uint8_t kFvRevision = 2;             // EFI_FVH_REVISION
constexpr std::size_t kFvHeaderFixedSize = 56;      // up to BlockMap[0]
constexpr std::size_t kVarStoreHeaderSize = 28;     // VARIABLE_STORE_HEADER
constexpr std::uint8_t kVarStoreFormatted = 0x5a;
constexpr std::uint8_t kVarStoreHealthy = 0xfe;
constexpr std::uint16_t kVariableStartId = 0x55aa;
constexpr std::uint8_t kVarAdded = 0x3f;
constexpr std::uint8_t kVarInDeletedTransition = 0xfe;
constexpr std::size_t kAuthVarHeaderSize = 60;  // AUTHENTICATED_VARIABLE_HEADER
constexpr std::size_t kHeaderAlignment = 4;
constexpr std::size_t kSignatureListHeaderSize = 28;  // EFI_SIGNATURE_LIST
constexpr std::size_t kSignatureOwnerSize = 16;       // EFI_SIGNATURE_DATA.SignatureOwner

constexpr std::uint32_t kAttrNonVolatile = 0x01;
constexpr std::uint32_t kAttrBootService = 0x02;
constexpr std::uint32_t kAttrRuntime = 0x04;
constexpr std::uint32_t kAttrTimeBasedAuth = 0x20;

const EfiGuid kSystemNvDataFvGuid =  // gEfiSystemNvDataFvGuid
    make_guid(0xfff12b8d, 0x7696, 0x4c8b, {0xa9, 0x85, 0x27, 0x47, 0x07, 0x5b, 0x4f, 0x50});
const EfiGuid kVariableGuid =  // gEfiVariableGuid (non-authenticated store)
    make_guid(0xddcf3616, 0x3275, 0x4164, {0x98, 0xb6, 0xfe, 0x85, 0x70, 0x7f, 0xfe, 0x7d});
const EfiGuid kAuthenticatedVariableGuid =  // gEfiAuthenticatedVariableGuid
    make_guid(0xaaf32c78, 0x947b, 0x439a, {0xa1, 0x80, 0x2e, 0x14, 0x4e, 0xc3, 0x77, 0x92});
const EfiGuid kGlobalVariableGuid =  // EFI_GLOBAL_VARIABLE (PK, KEK)
    make_guid(0x8be4df61, 0x93ca, 0x11d2, {0xaa, 0x0d, 0x00, 0xe0, 0x98, 0x03, 0x2b, 0x8c});
const EfiGuid kImageSecurityDatabaseGuid =  // EFI_IMAGE_SECURITY_DATABASE_GUID (db)
    make_guid(0xd719b2cb, 0x3d3a, 0x4596, {0xa3, 0xbc, 0xda, 0xd0, 0x0e, 0x67, 0x65, 0x6f});
const EfiGuid kCertX509Guid =  // EFI_CERT_X509_GUID
    make_guid(0xa5c059a1, 0x94e4, 0x4aa7, {0x87, 0xb5, 0xab, 0x15, 0x5c, 0x2b, 0xf0, 0x72});
const EfiGuid kSecureBootEnableDisableGuid =  // gEfiSecureBootEnableDisableGuid
    make_guid(0xf0a30bc7, 0xaf08, 0x4556, {0x99, 0xc4, 0x00, 0x10, 0x09, 0xc9, 0x3a, 0x44});
const EfiGuid kCustomModeEnableGuid =  // gEfiCustomModeEnableGuid
    make_guid(0xc076ec0c, 0x7028, 0x4399, {0xa0, 0x72, 0x71, 0xee, 0x5c, 0x44, 0x8b, 0x9f});

// ---------------------------------------------------------------- helpers
[[noreturn]] void fail(const std::string& what, const std::string& problem) { throw Error(what + ": " + problem); }

std::uint16_t rd16(std::span<const std::uint8_t> b, std::size_t off) {
    return static_cast<std::uint16_t>(b[off] | (b[off + 1] << 8));
}
std::uint32_t rd32(std::span<const std::uint8_t> b, std::size_t off) {
    return static_cast<std::uint32_t>(b[off]) | (static_cast<std::uint32_t>(b[off + 1]) << 8) |
           (static_cast<std::uint32_t>(b[off + 2]) << 16) | (static_cast<std::uint32_t>(b[off + 3]) << 24);
}
std::uint64_t rd64(std::span<const std::uint8_t> b, std::size_t off) {
    return static_cast<std::uint64_t>(rd32(b, off)) | (static_cast<std::uint64_t>(rd32(b, off + 4)) << 32);
}
EfiGuid rdguid(std::span<const std::uint8_t> b, std::size_t off) {
    EfiGuid g{};
    std::copy_n(b.begin() + static_cast<std::ptrdiff_t>(off), 16, g.begin());
    return g;
}

void put16(std::vector<std::uint8_t>& v, std::uint16_t x) {
    v.push_back(static_cast<std::uint8_t>(x));
    v.push_back(static_cast<std::uint8_t>(x >> 8));
}
void put32(std::vector<std::uint8_t>& v, std::uint32_t x) {
    for (int i = 0; i < 4; ++i) v.push_back(static_cast<std::uint8_t>(x >> (8 * i)));
}
void put64(std::vector<std::uint8_t>& v, std::uint64_t x) {
    for (int i = 0; i < 8; ++i) v.push_back(static_cast<std::uint8_t>(x >> (8 * i)));
}
void putbytes(std::vector<std::uint8_t>& v, std::span<const std::uint8_t> b) { v.insert(v.end(), b.begin(), b.end()); }

std::size_t align_up(std::size_t x, std::size_t a) { return (x + a - 1) / a * a; }

std::string hex(std::uint64_t x) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string s;
    do {
        s.insert(s.begin(), digits[x & 0xf]);
        x >>= 4;
    } while (x != 0);
    return "0x" + s;
}

std::string guid_to_string(const EfiGuid& g) {
    static constexpr char digits[] = "0123456789abcdef";
    // Field order for printing: d1 (LE), d2 (LE), d3 (LE), d4 (bytes).
    const int order[16] = {3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15};
    std::string s;
    for (int i = 0; i < 16; ++i) {
        if (i == 4 || i == 6 || i == 8 || i == 10) s += '-';
        s += digits[g[order[i]] >> 4];
        s += digits[g[order[i]] & 0xf];
    }
    return s;
}

// UCS-2 little endian, NUL terminated (ASCII names only).
std::vector<std::uint8_t> ucs2_name(std::string_view name) {
    std::vector<std::uint8_t> out;
    for (char c : name) {
        out.push_back(static_cast<std::uint8_t>(c));
        out.push_back(0);
    }
    out.push_back(0);
    out.push_back(0);
    return out;
}

// Parses a DER length at b[off]; returns {length, header_bytes_consumed} or
// throws. Only definite lengths up to 4 octets are accepted.
std::pair<std::size_t, std::size_t> der_length(std::span<const std::uint8_t> b, std::size_t off,
                                               const std::string& what) {
    if (off >= b.size()) fail(what, "truncated DER length");
    std::uint8_t first = b[off];
    if (first < 0x80) return {first, 1};
    std::size_t n = first & 0x7f;
    if (n == 0 || n > 4) fail(what, "unsupported DER length encoding (indefinite or too long)");
    if (off + 1 + n > b.size()) fail(what, "truncated DER length");
    std::size_t len = 0;
    for (std::size_t i = 0; i < n; ++i) len = (len << 8) | b[off + 1 + i];
    return {len, 1 + n};
}

void check_der_certificate(std::span<const std::uint8_t> der, const std::string& what) {
    if (der.size() < 16) fail(what, "certificate is too short to be X.509 DER");
    if (der[0] != 0x30) fail(what, "not a DER X.509 certificate (outer tag is not SEQUENCE)");
    auto [len, hdr] = der_length(der, 1, what);
    if (1 + hdr + len != der.size()) {
        fail(what, "DER length (" + std::to_string(1 + hdr + len) + ") does not match the certificate size (" +
                       std::to_string(der.size()) + ")");
    }
    std::size_t inner = 1 + hdr;
    if (der[inner] != 0x30) fail(what, "not an X.509 certificate (tbsCertificate is not a SEQUENCE)");
    auto [tlen, thdr] = der_length(der, inner + 1, what);
    if (inner + 1 + thdr + tlen > der.size()) fail(what, "tbsCertificate overruns the certificate");
}

struct NewVariable {
    std::string name;
    EfiGuid guid;
    std::uint32_t attributes;
    std::vector<std::uint8_t> data;
};

std::vector<std::uint8_t> x509_signature_list(std::span<const std::uint8_t> der, const EfiGuid& owner) {
    const std::size_t sig_size = kSignatureOwnerSize + der.size();
    const std::size_t list_size = kSignatureListHeaderSize + sig_size;
    std::vector<std::uint8_t> v;
    v.reserve(list_size);
    putbytes(v, kCertX509Guid);                       // SignatureType
    put32(v, static_cast<std::uint32_t>(list_size));  // SignatureListSize
    put32(v, 0);                                      // SignatureHeaderSize
    put32(v, static_cast<std::uint32_t>(sig_size));   // SignatureSize
    putbytes(v, owner);                               // SignatureData[0].SignatureOwner
    putbytes(v, der);                                 // SignatureData[0].SignatureData
    return v;
}

std::vector<std::uint8_t> serialize_variable(const NewVariable& var) {
    const auto name = ucs2_name(var.name);
    std::vector<std::uint8_t> v;
    put16(v, kVariableStartId);                             // StartId
    v.push_back(kVarAdded);                                 // State
    v.push_back(0);                                         // Reserved
    put32(v, var.attributes);                               // Attributes
    put64(v, 0);                                            // MonotonicCount
    for (int i = 0; i < 16; ++i) v.push_back(0);            // TimeStamp (EFI_TIME, zero)
    put32(v, 0);                                            // PubKeyIndex
    put32(v, static_cast<std::uint32_t>(name.size()));      // NameSize
    put32(v, static_cast<std::uint32_t>(var.data.size()));  // DataSize
    putbytes(v, var.guid);                                  // VendorGuid
    putbytes(v, name);
    putbytes(v, var.data);
    return v;  // padding to HEADER_ALIGNMENT is left as erased flash (0xff)
}

// Decodes the UCS-2 name of an existing record into ASCII (non-ASCII -> '?').
std::string record_name(std::span<const std::uint8_t> b, std::size_t off, std::size_t size) {
    std::string s;
    for (std::size_t i = 0; i + 1 < size; i += 2) {
        std::uint16_t c = rd16(b, off + i);
        if (c == 0) break;
        s += (c < 0x80) ? static_cast<char>(c) : '?';
    }
    return s;
}

}  // namespace

// ---------------------------------------------------------------- public API
EfiGuid make_guid(std::uint32_t d1, std::uint16_t d2, std::uint16_t d3, std::array<std::uint8_t, 8> d4) {
    EfiGuid g{};
    for (int i = 0; i < 4; ++i) g[i] = static_cast<std::uint8_t>(d1 >> (8 * i));
    g[4] = static_cast<std::uint8_t>(d2);
    g[5] = static_cast<std::uint8_t>(d2 >> 8);
    g[6] = static_cast<std::uint8_t>(d3);
    g[7] = static_cast<std::uint8_t>(d3 >> 8);
    std::copy(d4.begin(), d4.end(), g.begin() + 8);
    return g;
}

EfiGuid default_signature_owner() {
    // Fixed, arbitrary owner GUID for romimg-enrolled keys:
    // 5c1b0a2e-7d3f-4e8a-9b61-726f6d696d67 (last 6 bytes spell "romimg").
    return make_guid(0x5c1b0a2e, 0x7d3f, 0x4e8a, {0x9b, 0x61, 0x72, 0x6f, 0x6d, 0x69, 0x6d, 0x67});
}

std::vector<std::uint8_t> enroll_secure_boot(std::span<const std::uint8_t> t, const SecureBootKeys& keys,
                                             const std::string& what) {
    check_der_certificate(keys.pk_der, what + " (PK certificate)");
    check_der_certificate(keys.kek_der, what + " (KEK certificate)");
    check_der_certificate(keys.db_der, what + " (db certificate)");

    // --- EFI_FIRMWARE_VOLUME_HEADER -------------------------------------------
    if (t.size() < kFvHeaderFixedSize + 8 + kVarStoreHeaderSize) {
        fail(what, "file too small (" + std::to_string(t.size()) + " bytes) for a firmware volume");
    }
    if (rd32(t, 40) != kFvSignature) fail(what, "no firmware volume signature \"_FVH\" at offset 0x28");
    if (rdguid(t, 16) != kSystemNvDataFvGuid) {
        fail(what, "firmware volume FileSystemGuid is " + guid_to_string(rdguid(t, 16)) +
                       ", expected gEfiSystemNvDataFvGuid " + guid_to_string(kSystemNvDataFvGuid) +
                       " (not an NV variable store)");
    }
    const std::uint64_t fv_length = rd64(t, 32);
    if (fv_length == 0 || fv_length > t.size()) {
        fail(what, "firmware volume length " + hex(fv_length) + " does not fit the file size " + hex(t.size()));
    }
    const std::size_t header_length = rd16(t, 48);
    if (header_length < kFvHeaderFixedSize + 8 || header_length % 2 != 0 || header_length > fv_length) {
        fail(what, "implausible firmware volume HeaderLength " + hex(header_length));
    }
    if (t[55] != kFvRevision) fail(what, "unsupported firmware volume revision " + std::to_string(t[55]));
    {
        std::uint16_t sum = 0;
        for (std::size_t i = 0; i < header_length; i += 2) sum = static_cast<std::uint16_t>(sum + rd16(t, i));
        if (sum != 0) fail(what, "firmware volume header checksum is invalid");
    }
    {
        std::uint64_t covered = 0;
        std::size_t off = kFvHeaderFixedSize;  // BlockMap[0] at 0x38
        for (;; off += 8) {
            if (off + 8 > header_length) fail(what, "firmware volume block map is not terminated");
            const std::uint32_t num = rd32(t, off), len = rd32(t, off + 4);
            if (num == 0 && len == 0) break;
            covered += static_cast<std::uint64_t>(num) * len;
        }
        if (covered != fv_length) {
            fail(what, "firmware volume block map covers " + hex(covered) + " bytes, FvLength is " + hex(fv_length));
        }
    }

    // --- VARIABLE_STORE_HEADER (at FvHeader->HeaderLength) --------------------
    const std::size_t store = header_length;
    if (store + kVarStoreHeaderSize > fv_length) fail(what, "variable store header lies outside the volume");
    const EfiGuid store_guid = rdguid(t, store);
    if (store_guid == kVariableGuid) {
        fail(what,
             "variable store uses gEfiVariableGuid (non-authenticated); Secure Boot needs an "
             "authenticated store (gEfiAuthenticatedVariableGuid), e.g. from an OVMF build with "
             "SECURE_BOOT_ENABLE");
    }
    if (store_guid != kAuthenticatedVariableGuid) {
        fail(what, "unknown variable store signature " + guid_to_string(store_guid) + " at offset " + hex(store));
    }
    const std::size_t store_size = rd32(t, store + 16);
    if (t[store + 20] != kVarStoreFormatted) fail(what, "variable store is not formatted (Format != 0x5a)");
    if (t[store + 21] != kVarStoreHealthy) fail(what, "variable store is not healthy (State != 0xfe)");
    if (store_size < kVarStoreHeaderSize || store + store_size > fv_length) {
        fail(what, "variable store size " + hex(store_size) + " does not fit in the firmware volume");
    }
    const std::size_t store_end = store + store_size;

    // --- variables to add -----------------------------------------------------
    const std::uint32_t auth_attrs = kAttrNonVolatile | kAttrBootService | kAttrRuntime | kAttrTimeBasedAuth;
    const std::vector<NewVariable> vars = {
        {"PK", kGlobalVariableGuid, auth_attrs, x509_signature_list(keys.pk_der, keys.owner)},
        {"KEK", kGlobalVariableGuid, auth_attrs, x509_signature_list(keys.kek_der, keys.owner)},
        {"db", kImageSecurityDatabaseGuid, auth_attrs, x509_signature_list(keys.db_der, keys.owner)},
        // AuthVariableLibInitialize: SecureBoot=1 iff PK present and SecureBootEnable==1.
        {"SecureBootEnable", kSecureBootEnableDisableGuid, kAttrNonVolatile | kAttrBootService, {1}},
        // Standard (not custom) Secure Boot mode.
        {"CustomMode", kCustomModeEnableGuid, kAttrNonVolatile | kAttrBootService, {0}},
    };

    // --- walk existing AUTHENTICATED_VARIABLE_HEADER records ------------------
    std::size_t off = align_up(store + kVarStoreHeaderSize, kHeaderAlignment);
    while (off + kAuthVarHeaderSize <= store_end && rd16(t, off) == kVariableStartId) {
        const std::uint8_t state = t[off + 2];
        const std::size_t name_size = rd32(t, off + 36);
        const std::size_t data_size = rd32(t, off + 40);
        const EfiGuid guid = rdguid(t, off + 44);
        if (name_size > store_size || data_size > store_size ||
            off + kAuthVarHeaderSize + name_size + data_size > store_end) {
            fail(what, "corrupt variable record at offset " + hex(off) + " (sizes overrun the store)");
        }
        const std::string name = record_name(t, off + kAuthVarHeaderSize, name_size);
        const bool live = state == kVarAdded || state == (kVarAdded & kVarInDeletedTransition);
        for (const auto& v : vars) {
            if (live && v.guid == guid && v.name == name) {
                fail(what, "variable \"" + name + "\" (" + guid_to_string(guid) +
                               ") already exists; expected a template without Secure Boot variables");
            }
        }
        off = align_up(off + kAuthVarHeaderSize + name_size + data_size, kHeaderAlignment);
    }
    const std::size_t free_start = off;
    for (std::size_t i = free_start; i < store_end; ++i) {
        if (t[i] != 0xff) {
            fail(what, "unexpected non-erased byte at offset " + hex(i) +
                           " after the last variable record (free space must be 0xff)");
        }
    }

    // --- append -----------------------------------------------------------------
    std::vector<std::uint8_t> out(t.begin(), t.end());
    for (const auto& v : vars) {
        const auto rec = serialize_variable(v);
        if (off + rec.size() > store_end) {
            fail(what, "not enough free space in the variable store for \"" + v.name + "\" (" +
                           std::to_string(rec.size()) + " bytes needed, " +
                           std::to_string(store_end > off ? store_end - off : 0) + " free)");
        }
        std::copy(rec.begin(), rec.end(), out.begin() + static_cast<std::ptrdiff_t>(off));
        off = align_up(off + rec.size(), kHeaderAlignment);
    }
    return out;
}

void write_secure_boot_vars(const std::filesystem::path& template_path, const std::vector<std::uint8_t>& cert_der,
                            const std::filesystem::path& out_path) {
    const std::string tmpl = fs::read_file(template_path);
    SecureBootKeys keys;
    keys.pk_der = keys.kek_der = keys.db_der = cert_der;
    const auto out = enroll_secure_boot(
        std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(tmpl.data()), tmpl.size()), keys,
        template_path.string());
    fs::write_file_atomic(out_path, std::string(out.begin(), out.end()));
}

}  // namespace romimg::firmware
