// The trace sandbox: the traced service sees the host's files through a copy-on-write overlay,
// in its own mount, PID, network (loopback only), UTS and IPC namespaces. Planning the mounts
// is pure (plan_sandbox_mounts); supervisor_main() applies them in a forked child, becomes the
// tracer, and sends the TraceResult back over a pipe.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "appliance_conf.h"

namespace romimg::trace {

struct HostMount {
    std::string target;  // mount point
    std::string fstype;
    bool read_only = false;
};

// The host's mount table, from /proc/self/mountinfo (libmount).
std::vector<HostMount> read_host_mounts();

struct WritableDir {
    std::string path;
    std::string size = "64m";  // tmpfs size= option
};

struct MountOp {
    // data: an overlay of a [data] dir (the host's, or the jail's copy), writable, nosuid,nodev,
    // noexec, its top given to the service ("UID:GID" in options) as on the appliance (the
    // appliance binds it from the data disk; the sandbox's writes land in the scratch dir).
    enum Kind { overlay, bind_ro, rbind, tmpfs, sysfs, jail_root, data } kind;
    std::string source;  // overlay, jail_root: lower dir; binds: host path
    std::string target;  // absolute path inside the sandbox
    std::string options; // tmpfs options
};

// Pure: which mounts recreate the host's view inside the sandbox. Writable host filesystems
// become overlays (writes land in the scratch dir), read-only ones are bound read-only, /dev is
// the host's /dev with a private /dev/shm, /sys is a fresh read-only sysfs, /proc is mounted
// later by the sandbox's PID 1. `writable` dirs become empty tmpfs owned by uid:gid, as in the
// jail at run time.
std::vector<MountOp> plan_sandbox_mounts(const std::vector<HostMount>& host,
                                         const std::vector<WritableDir>& writable, uid_t uid,
                                         gid_t gid, const std::vector<std::string>& data = {});

// Pure: the sandbox for running a service from its jail directory instead of the host's files,
// the way the appliance mounts it: the jail as a read-only, nodev root (the squashfs root's
// flags), with empty mount points for its devices (a read-only overlay over the jail: the jail
// dir itself is never written), and the jail's tmpfs areas with the appliance's options and
// flags. The devices themselves are bound by init's own code (bind_devices) and /proc, if
// asked for, is mounted read-only by the sandbox's PID 1.
std::vector<MountOp> plan_jail_sandbox_mounts(const std::string& jail_root, const appliance::Service& confinement);

struct Credentials {
    uid_t uid = 0;
    gid_t gid = 0;
    std::vector<gid_t> groups;
};

struct ServiceSpec {
    std::vector<std::string> argv;  // argv[0] is an absolute path
    std::vector<std::string> env;   // the whole environment, "K=V"
    std::string cwd = "/";
    std::optional<Credentials> creds;  // none: run as root with all capabilities
    std::vector<int> keep_caps;        // with creds: the only capabilities kept (ambient)
    std::vector<WritableDir> writable;
    std::vector<std::string> data;  // [data] paths (host view): overlays the service owns the top of
    // Log files: in the appliance FIFOs drained by init. In the sandbox each is a file in the
    // scratch dir, owned by the service, bound over the path (its directory made traversable
    // for the service's group, as in the jail).
    std::vector<std::string> logs;
    // Run from a jail instead of the host overlay ("" = host), confined as the appliance confines
    // it: `confinement` is its appliance.conf entry with the jail as "/" (mounts, devices, log
    // FIFOs, user, capabilities, rlimits, environment), applied by init's own code (jail_enter).
    // Its log FIFOs are drained by the supervisor into the service's output log, as init would.
    std::string jail_root;
    std::optional<appliance::Service> confinement;
    std::string confinement_hostname = "romimg";  // the appliance's default hostname
    // With confinement: the service's compiled seccomp filter ("" = none), loaded after the trace
    // filter by init's own code (load_seccomp), so the run sees what the appliance refuses.
    std::string seccomp_bpf;
    bool proc = true;
    // Host directories bound read-only over a path of the host view (`romimg build --retrace`:
    // the new content in place, so the trace sees what the service does with it). (source, target)
    std::vector<std::pair<std::string, std::string>> content_binds;
    int stop_signal = 15;
    int stop_timeout_s = 10;
    // A file the service writes inside the sandbox (e.g. the JVM's class list in a writable dir of
    // its jail), copied by the supervisor to `collect_fd` (opened by romimg, O_CLOEXEC) once every
    // traced process is gone, before the sandbox and its tmpfs vanish. -1 = none.
    std::string collect_path;
    int collect_fd = -1;
};

// Messages from the supervisor to romimg, on the channel pipe.
enum class Msg : char { started = 'S', error = 'E', result = 'R' };
void send_msg(int fd, Msg type, const std::string& payload);
// Reads one message; false on EOF.
bool read_msg(int fd, Msg& type, std::string& payload);

// In a forked child of romimg: builds the sandbox under `scratch`, starts and traces the
// service, sends Msg::started, then Msg::result (TraceResult JSON, plus "main_status" and
// "stopped") when every traced process is gone. SIGUSR1 asks it to stop the service (stop
// signal, then SIGKILL after the timeout). Errors go out as Msg::error. Never returns.
[[noreturn]] void supervisor_main(const ServiceSpec& spec, const std::filesystem::path& scratch,
                                  int channel_fd);

}  // namespace romimg::trace
