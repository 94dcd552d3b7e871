// SPDX-License-Identifier: GPL-2.0-only
/*
 * romlock: containing root inside a jail.
 *
 * Input: the jail a task belongs to (exec_lock.c: set when it chroots
 * into a policy chroot directory after the seal, inherited by every
 * descendant), and the seal.  Output: allow/deny for the operations
 * through which a task that entered a jail, even as uid 0 with every
 * capability its parent could give it, could reach outside:
 *
 *   capabilities   the dangerous ones are refused to every jailed task,
 *                  whatever its uid or capability sets say (which also
 *                  refuses setns/unshare of mount namespaces, a second
 *                  chroot, open_by_handle_at, mknod, raw I/O, ...);
 *   other tasks    ptrace-style access (which is what /proc/PID/root,
 *                  cwd, exe, fd, environ and mem check), signals, and
 *                  SIGIO, only within its own jail;
 *   kernel log     syslog(2) and /dev/kmsg refused.
 * And, for everyone once sealed: no write open of a block device, no
 * loop device ioctl (LOOP_CHANGE_FD could swap the root's backing file).
 */
#include <linux/capability.h>
#include <linux/cred.h>
#include <linux/dm-ioctl.h>
#include <linux/fs.h>
#include <linux/loop.h>
#include <linux/major.h>
#include <linux/miscdevice.h>
#include <linux/namei.h>
#include <linux/ptrace.h>
#include <linux/sched/signal.h>
#include <linux/security.h>
#include <linux/slab.h>

#include "romlock.h"

static const struct {
	int cap;
	const char *name;
} romlock_jail_caps[] = {
	/* Keep this list in sync with builder/jail/capabilities.cc (a unit test compares them). */
	{ CAP_DAC_OVERRIDE, "cap_dac_override" },
	{ CAP_DAC_READ_SEARCH, "cap_dac_read_search" },
	{ CAP_SETPCAP, "cap_setpcap" },
	{ CAP_LINUX_IMMUTABLE, "cap_linux_immutable" },
	{ CAP_NET_ADMIN, "cap_net_admin" },
	{ CAP_NET_RAW, "cap_net_raw" },
	{ CAP_IPC_OWNER, "cap_ipc_owner" },
	{ CAP_SYS_MODULE, "cap_sys_module" },
	{ CAP_SYS_RAWIO, "cap_sys_rawio" },
	{ CAP_SYS_CHROOT, "cap_sys_chroot" },
	{ CAP_SYS_PTRACE, "cap_sys_ptrace" },
	{ CAP_SYS_PACCT, "cap_sys_pacct" },
	{ CAP_SYS_ADMIN, "cap_sys_admin" },
	{ CAP_SYS_BOOT, "cap_sys_boot" },
	{ CAP_SYS_RESOURCE, "cap_sys_resource" },
	{ CAP_SYS_TIME, "cap_sys_time" },
	{ CAP_SYS_TTY_CONFIG, "cap_sys_tty_config" },
	{ CAP_MKNOD, "cap_mknod" },
	{ CAP_AUDIT_WRITE, "cap_audit_write" },
	{ CAP_AUDIT_CONTROL, "cap_audit_control" },
	{ CAP_SETFCAP, "cap_setfcap" },
	{ CAP_MAC_OVERRIDE, "cap_mac_override" },
	{ CAP_MAC_ADMIN, "cap_mac_admin" },
	{ CAP_SYSLOG, "cap_syslog" },
	{ CAP_WAKE_ALARM, "cap_wake_alarm" },
	{ CAP_BLOCK_SUSPEND, "cap_block_suspend" },
	{ CAP_AUDIT_READ, "cap_audit_read" },
	{ CAP_PERFMON, "cap_perfmon" },
	{ CAP_BPF, "cap_bpf" },
	{ CAP_CHECKPOINT_RESTORE, "cap_checkpoint_restore" },
};

struct romlock_file {
	const struct romlock_rule *fowner_jail;	/* who set F_SETOWN */
};

static struct romlock_file *romlock_file(const struct file *file)
{
	return file->f_security + romlock_blob_sizes.lbs_file;
}

static const char *romlock_jail_cap_name(int cap)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(romlock_jail_caps); i++)
		if (romlock_jail_caps[i].cap == cap)
			return romlock_jail_caps[i].name;
	return NULL;
}

static int romlock_capable(const struct cred *cred, struct user_namespace *ns,
			   int cap, unsigned int opts)
{
	const struct romlock_rule *jail;
	const char *name;

	/* Only the caller's own checks: has_capability() of another task is not an act of it. */
	if (cred != current_cred())
		return 0;
	name = romlock_jail_cap_name(cap);
	if (!name)
		return 0;
	jail = romlock_task_jail(current);
	if (!jail)
		return 0;
	if (opts & CAP_OPT_NOAUDIT)	/* a probe, not an attempt: no log line */
		return romlock_enforcing() ? -EPERM : 0;
	return romlock_deny(ROMLOCK_OP_CAPABLE, "capability %s (stripped in jail %s)",
			    name, jail->dir);
}

/* 0 when current may reach @task: it is in no jail, or in the same one. */
static int romlock_same_jail(struct task_struct *task, bool audit,
			     enum romlock_op op, const char *what, int sig)
{
	const struct romlock_rule *mine = romlock_task_jail(current);

	if (!mine || romlock_task_jail(task) == mine)
		return 0;
	if (!audit)
		return romlock_enforcing() ? -EPERM : 0;
	if (op == ROMLOCK_OP_SIGNAL)
		return romlock_deny(op, "signal %d to pid %d (outside jail %s)",
				    sig, task_tgid_nr(task), mine->dir);
	return romlock_deny(op, "%s of pid %d (outside jail %s)", what,
			    task_tgid_nr(task), mine->dir);
}

static int romlock_ptrace_access_check(struct task_struct *child,
				       unsigned int mode)
{
	return romlock_same_jail(child, !(mode & PTRACE_MODE_NOAUDIT),
				 ROMLOCK_OP_JAIL,
				 (mode & PTRACE_MODE_ATTACH) ? "ptrace" :
							       "/proc access",
				 0);
}

static int romlock_ptrace_traceme(struct task_struct *parent)
{
	return romlock_same_jail(parent, true, ROMLOCK_OP_JAIL,
				 "PTRACE_TRACEME by", 0);
}

static int romlock_task_kill(struct task_struct *p,
			     struct kernel_siginfo *info, int sig,
			     const struct cred *cred)
{
	if (cred)	/* USB async I/O completion, sent on behalf of a cred */
		return 0;
	return romlock_same_jail(p, true, ROMLOCK_OP_SIGNAL, NULL, sig);
}

static void romlock_file_set_fowner(struct file *file)
{
	romlock_file(file)->fowner_jail = romlock_task_jail(current);
}

static int romlock_file_send_sigiotask(struct task_struct *tsk,
				       struct fown_struct *fown, int sig)
{
	const struct romlock_rule *jail;

	jail = fown->file ? romlock_file(fown->file)->fowner_jail : NULL;
	if (!jail || romlock_task_jail(tsk) == jail)
		return 0;
	return romlock_deny(ROMLOCK_OP_SIGNAL,
			    "SIGIO %d to pid %d (owner set in jail %s)", sig,
			    task_tgid_nr(tsk), jail->dir);
}

static int romlock_syslog(int type)
{
	const struct romlock_rule *jail = romlock_task_jail(current);

	if (!jail)
		return 0;
	return romlock_deny(ROMLOCK_OP_SYSLOG,
			    "kernel log (syslog type %d) from jail %s", type,
			    jail->dir);
}

static int romlock_file_open(struct file *file)
{
	struct inode *inode = file_inode(file);
	char *buf;
	int ret;

	if (!romlock_sealed() || !S_ISBLK(inode->i_mode) ||
	    !(file->f_mode & FMODE_WRITE))
		return 0;
	buf = kmalloc(PATH_MAX, GFP_KERNEL);
	ret = romlock_deny(ROMLOCK_OP_BLOCKDEV,
			   "open block device %s for writing (refused once sealed)",
			   buf ? romlock_path(&file->f_path, buf, PATH_MAX) : "?");
	kfree(buf);
	return ret;
}

static bool romlock_is_loop(const struct inode *inode)
{
	if (S_ISBLK(inode->i_mode))
		return imajor(inode) == LOOP_MAJOR;
	return S_ISCHR(inode->i_mode) && imajor(inode) == MISC_MAJOR &&
	       iminor(inode) == LOOP_CTRL_MINOR;
}

static bool romlock_is_dm_control(const struct inode *inode)
{
	return S_ISCHR(inode->i_mode) && imajor(inode) == MISC_MAJOR &&
	       iminor(inode) == MAPPER_CTRL_MINOR;
}

/*
 * The device-mapper ioctls that only read: everything else could reload a
 * verity table as a plain linear map, or remove the device under the root.
 */
static bool romlock_dm_read_only(unsigned int cmd)
{
	if (_IOC_TYPE(cmd) != DM_IOCTL)
		return false;
	switch (_IOC_NR(cmd)) {
	case DM_VERSION_CMD:
	case DM_LIST_DEVICES_CMD:
	case DM_DEV_STATUS_CMD:
	case DM_TABLE_STATUS_CMD:
	case DM_LIST_VERSIONS_CMD:
		return true;
	}
	return false;
}

static int romlock_file_ioctl(struct file *file, unsigned int cmd,
			      unsigned long arg)
{
	const struct inode *inode = file_inode(file);

	if (!romlock_sealed())
		return 0;
	if (romlock_is_loop(inode) && cmd != LOOP_GET_STATUS &&
	    cmd != LOOP_GET_STATUS64)
		return romlock_deny(ROMLOCK_OP_BLOCKDEV,
				    "loop ioctl 0x%x (refused once sealed)", cmd);
	if (romlock_is_dm_control(inode) && !romlock_dm_read_only(cmd))
		return romlock_deny(ROMLOCK_OP_BLOCKDEV,
				    "device-mapper ioctl %u (refused once sealed)",
				    _IOC_NR(cmd));
	return 0;
}

/*
 * Kills every task in the jail whose chroot directory is @dir (init, when
 * a service died: nothing of it may outlive it into the next start).
 */
int romlock_kill_jail(const char *dir)
{
	const struct romlock_rule *rule;
	struct task_struct *p;
	struct path path;
	int err, killed = 0;

	err = kern_path(dir, LOOKUP_FOLLOW | LOOKUP_DIRECTORY, &path);
	if (err)
		return err;
	rule = romlock_find_chroot_rule(path.dentry);
	path_put(&path);
	if (!rule)
		return -ENOENT;
	rcu_read_lock();
	for_each_process(p) {
		if (romlock_task_jail(p) == rule) {
			send_sig(SIGKILL, p, 1);
			killed++;
		}
	}
	rcu_read_unlock();
	romlock_allow(ROMLOCK_OP_JAIL, "kill jail %s: %d process(es)", dir,
		      killed);
	return killed;
}

static struct security_hook_list romlock_jail_hooks[] __ro_after_init = {
	LSM_HOOK_INIT(capable, romlock_capable),
	LSM_HOOK_INIT(ptrace_access_check, romlock_ptrace_access_check),
	LSM_HOOK_INIT(ptrace_traceme, romlock_ptrace_traceme),
	LSM_HOOK_INIT(task_kill, romlock_task_kill),
	LSM_HOOK_INIT(file_set_fowner, romlock_file_set_fowner),
	LSM_HOOK_INIT(file_send_sigiotask, romlock_file_send_sigiotask),
	LSM_HOOK_INIT(syslog, romlock_syslog),
	LSM_HOOK_INIT(file_open, romlock_file_open),
	LSM_HOOK_INIT(file_ioctl, romlock_file_ioctl),
	LSM_HOOK_INIT(file_ioctl_compat, romlock_file_ioctl),
};

void __init romlock_add_jail_hooks(void)
{
	security_add_hooks(romlock_jail_hooks, ARRAY_SIZE(romlock_jail_hooks),
			   &romlock_lsmid);
}
