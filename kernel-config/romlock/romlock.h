/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * romlock: the LSM of the romimg appliance.
 *
 * lsm.c        registration, romlock.mode=, decision logging and counters
 * policy.c     the policy (mount and chroot rules) and the one-way seal
 * mount.c      mount, remount, umount, move, mount_setattr, pivot_root, chroot
 * exec_lock.c  the exec lock, the start lock and the fork lineage (which
 *              also carries the jail a task entered)
 * jail.c       what a task in a jail may not do, even as root
 * securityfs.c /sys/kernel/security/romlock/{policy,exec_lock,status}
 */
#ifndef _SECURITY_ROMLOCK_H
#define _SECURITY_ROMLOCK_H

#include <linux/lsm_hooks.h>
#include <linux/path.h>
#include <linux/list.h>
#include <linux/seq_file.h>

/* What a decision was about; one allowed/denied counter pair each. */
enum romlock_op {
	ROMLOCK_OP_MOUNT,
	ROMLOCK_OP_REMOUNT,
	ROMLOCK_OP_BIND,
	ROMLOCK_OP_MOVE,
	ROMLOCK_OP_PROPAGATION,
	ROMLOCK_OP_SETATTR,
	ROMLOCK_OP_UMOUNT,
	ROMLOCK_OP_PIVOT_ROOT,
	ROMLOCK_OP_CHROOT,
	ROMLOCK_OP_EXEC,
	ROMLOCK_OP_EXEC_LOCK,
	ROMLOCK_OP_POLICY,
	ROMLOCK_OP_CAPABLE,
	ROMLOCK_OP_JAIL,
	ROMLOCK_OP_SIGNAL,
	ROMLOCK_OP_SYSLOG,
	ROMLOCK_OP_BLOCKDEV,
	ROMLOCK_OP_COUNT,
};

extern const char *const romlock_op_names[ROMLOCK_OP_COUNT];

/* lsm.c */
extern struct lsm_blob_sizes romlock_blob_sizes;
extern const struct lsm_id romlock_lsmid;
extern bool romlock_initialized;
bool romlock_enforcing(void);
__printf(2, 3) int romlock_deny(enum romlock_op op, const char *fmt, ...);
__printf(2, 3) void romlock_allow(enum romlock_op op, const char *fmt, ...);
void romlock_show_counters(struct seq_file *m);
const char *romlock_path(const struct path *path, char *buf, int buflen);

/* policy.c */
enum romlock_rule_kind { ROMLOCK_RULE_MOUNT, ROMLOCK_RULE_CHROOT };

struct romlock_rule {
	struct list_head list;
	enum romlock_rule_kind kind;
	char *fstype;		/* mount rules only */
	char *dir;		/* as written, for status and logs */
	struct path path;	/* dir resolved when the rule was written */
	unsigned long flags;	/* MS_RDONLY|MS_NOSUID|MS_NODEV|MS_NOEXEC */
};

bool romlock_sealed(void);
int romlock_policy_write(char *text);
const struct romlock_rule *romlock_find_mount_rule(const char *fstype,
						   const struct dentry *dir);
const struct romlock_rule *romlock_find_chroot_rule(const struct dentry *dir);
void romlock_show_policy(struct seq_file *m);
void romlock_format_flags(unsigned long ms_flags, char *buf, size_t len);

/* mount.c */
void __init romlock_add_mount_hooks(void);

/* exec_lock.c */
void __init romlock_add_exec_hooks(void);
int romlock_exec_lock_pid(pid_t nr);
struct romlock_start_allow;
struct romlock_start_allow *romlock_start_allow_alloc(int count);
void romlock_start_allow_add(struct romlock_start_allow *allow,
			     const struct inode *inode);
int romlock_start_lock_pid(pid_t nr, struct romlock_start_allow *allow);
const struct romlock_rule *romlock_task_jail(const struct task_struct *task);
void romlock_enter_jail(const struct romlock_rule *jail);

/* jail.c */
void __init romlock_add_jail_hooks(void);
int romlock_kill_jail(const char *dir);

/* securityfs.c: nothing exported, it registers itself with fs_initcall. */

#endif /* _SECURITY_ROMLOCK_H */
