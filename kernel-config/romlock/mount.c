// SPDX-License-Identifier: GPL-2.0-only
/*
 * romlock: the mount table and chroot, once the policy is sealed.
 *
 * Input: the sealed policy (policy.c).  Output: allow/deny per operation.
 * Before the seal everything is allowed and nothing is logged: boot mounts
 * freely, then init writes the policy and seals it.
 *
 * Which entry point reaches which hook (Linux 6.12):
 *   mount(2) new/bind/move/propagation/remount  -> sb_mount (flags by value)
 *   mount(2) MS_REMOUNT without MS_BIND         -> sb_mount, then sb_remount
 *   fsopen+fsconfig+fsmount                     -> fsmount (added by our patch)
 *   move_mount(2) (attaching or moving)         -> move_mount
 *   open_tree(OPEN_TREE_CLONE) + move_mount     -> move_mount (a bind mount)
 *   fspick + FSCONFIG_CMD_RECONFIGURE           -> sb_remount only
 *   mount_setattr(2)                            -> mount_setattr (added by
 *                                                  our patch to fs/namespace.c)
 *   umount2(2)                                  -> sb_umount
 *   pivot_root(2)                               -> sb_pivotroot
 *   chroot(2)                                   -> path_chroot
 * None of these look at the caller's mount or user namespace: a mount made
 * in a private mount namespace meets the same rules (rules match dentries,
 * which a namespace copy shares).
 *
 * An LSM cannot change the flags of a mount (they arrive by value), so a
 * mount lacking a required flag is refused rather than fixed up.
 */
#include <linux/fs.h>
#include <linux/fs_context.h>
#include <linux/fs_struct.h>
#include <linux/mount.h>
#include <uapi/linux/mount.h>
#include <linux/slab.h>

#include "romlock.h"

#define ROMLOCK_PROPAGATION (MS_SHARED | MS_PRIVATE | MS_SLAVE | MS_UNBINDABLE)
#define ROMLOCK_PROTECTIVE_MNT (MNT_NOSUID | MNT_NODEV | MNT_NOEXEC | MNT_READONLY)

/* Scratch for two d_path() results; hooks here may sleep. */
struct romlock_names {
	char a[256];
	char b[256];
};

static struct romlock_names *romlock_names_alloc(void)
{
	/* On failure the callers print "?" rather than fail the syscall. */
	return kmalloc(sizeof(struct romlock_names), GFP_KERNEL);
}

static const char *name_a(struct romlock_names *n, const struct path *p)
{
	return n ? romlock_path(p, n->a, sizeof(n->a)) : "?";
}

static const char *name_b(struct romlock_names *n, const struct path *p)
{
	return n ? romlock_path(p, n->b, sizeof(n->b)) : "?";
}

static bool romlock_is_caller_root(const struct path *path)
{
	struct path root;
	bool ret;

	get_fs_root(current->fs, &root);
	ret = path->mnt == root.mnt && path->dentry == root.dentry;
	path_put(&root);
	return ret;
}

static unsigned int romlock_ms_to_mnt(unsigned long ms)
{
	unsigned int mnt = 0;

	if (ms & MS_NOSUID)
		mnt |= MNT_NOSUID;
	if (ms & MS_NODEV)
		mnt |= MNT_NODEV;
	if (ms & MS_NOEXEC)
		mnt |= MNT_NOEXEC;
	if (ms & MS_RDONLY)
		mnt |= MNT_READONLY;
	return mnt;
}

static const char *romlock_mnt_flag_name(unsigned int mnt)
{
	if (mnt & MNT_READONLY)
		return "ro";
	if (mnt & MNT_NOEXEC)
		return "noexec";
	if (mnt & MNT_NOSUID)
		return "nosuid";
	return "nodev";
}

static int romlock_check_new_mount(const char *type, const struct path *path,
				   unsigned long flags,
				   struct romlock_names *n)
{
	const struct romlock_rule *rule;
	const char *where = name_a(n, path);
	unsigned long missing;
	char have[64];

	if (!type)
		return romlock_deny(ROMLOCK_OP_MOUNT,
				   "mount ? on %s (no filesystem type)", where);
	/*
	 * Never on top of a mount, whatever the policy says: init writes the
	 * policy after making its mounts, so a rule's directory resolves to
	 * the root of what is mounted there, and path lookup ends at the top
	 * of a mount stack; without this, the same rule would allow a second
	 * mount over the first one (an overmount that hides it).
	 */
	if (path->dentry == path->mnt->mnt_root)
		return romlock_deny(ROMLOCK_OP_MOUNT,
				    "mount %s on %s (on top of an existing mount)",
				    type, where);
	rule = romlock_find_mount_rule(type, path->dentry);
	if (!rule) {
		return romlock_deny(ROMLOCK_OP_MOUNT,
				    "mount %s on %s (not in policy)", type,
				    where);
	}
	missing = rule->flags & ~flags;
	if (missing) {
		char need[64];

		romlock_format_flags(missing, need, sizeof(need));
		return romlock_deny(ROMLOCK_OP_MOUNT,
				    "mount %s on %s (missing %s required by policy)",
				    type, where, need);
	}
	romlock_format_flags(flags, have, sizeof(have));
	romlock_allow(ROMLOCK_OP_MOUNT, "mount %s on %s with options %s", type,
		      where, have);
	return 0;
}

static int romlock_check_remount(const struct path *path, unsigned long flags,
				 struct romlock_names *n)
{
	struct super_block *sb = path->mnt->mnt_sb;
	const char *where = name_a(n, path);
	unsigned int lost;

	if (flags & MS_BIND) {
		/* Per-mount flags only: tightening is fine, loosening not. */
		lost = READ_ONCE(path->mnt->mnt_flags) & ROMLOCK_PROTECTIVE_MNT &
		       ~romlock_ms_to_mnt(flags);
		if (lost)
			return romlock_deny(ROMLOCK_OP_REMOUNT,
					    "remount %s (clears %s)", where,
					    romlock_mnt_flag_name(lost));
		romlock_allow(ROMLOCK_OP_REMOUNT,
			      "remount %s (mount flags, none cleared)", where);
		return 0;
	}
	/*
	 * A superblock remount also rewrites the mount's flags, so it could
	 * clear noexec (mount -o remount,exec); the policy has no way to
	 * allow one after the seal.
	 */
	if (romlock_is_caller_root(path))
		return romlock_deny(ROMLOCK_OP_REMOUNT,
				    "remount / (remount of the root filesystem)");
	if (sb_rdonly(sb) && !(flags & MS_RDONLY))
		return romlock_deny(ROMLOCK_OP_REMOUNT,
				    "remount %s %s (read-only to read-write)",
				    sb->s_type->name, where);
	return romlock_deny(ROMLOCK_OP_REMOUNT,
			    "remount %s %s (remounts are refused once sealed)",
			    sb->s_type->name, where);
}

static int romlock_sb_mount(const char *dev_name, const struct path *path,
			    const char *type, unsigned long flags, void *data)
{
	struct romlock_names *n;
	int ret;

	if (!romlock_sealed())
		return 0;
	n = romlock_names_alloc();
	if (flags & MS_REMOUNT)
		ret = romlock_check_remount(path, flags, n);
	else if (flags & MS_BIND)
		ret = romlock_deny(ROMLOCK_OP_BIND,
				   "bind mount %s on %s (bind mounts are refused)",
				   dev_name ? dev_name : "?", name_a(n, path));
	else if (flags & MS_MOVE)
		ret = romlock_deny(ROMLOCK_OP_MOVE,
				   "move mount %s to %s (moves are refused)",
				   dev_name ? dev_name : "?", name_a(n, path));
	else if (flags & ROMLOCK_PROPAGATION)
		ret = romlock_deny(ROMLOCK_OP_PROPAGATION,
				   "propagation change on %s", name_a(n, path));
	else
		ret = romlock_check_new_mount(type, path, flags, n);
	kfree(n);
	return ret;
}

/* fspick + FSCONFIG_CMD_RECONFIGURE lands here without sb_mount. */
static int romlock_sb_remount(struct super_block *sb, void *mnt_opts)
{
	struct path root;
	bool is_root;

	if (!romlock_sealed())
		return 0;
	get_fs_root(current->fs, &root);
	is_root = root.mnt->mnt_sb == sb;
	path_put(&root);
	if (is_root)
		return romlock_deny(ROMLOCK_OP_REMOUNT,
				    "remount / (reconfigure of the root filesystem)");
	return romlock_deny(ROMLOCK_OP_REMOUNT,
			    "remount %s %s (reconfigure refused once sealed)",
			    sb->s_type->name, sb->s_id);
}

static int romlock_move_mount(const struct path *from_path,
			      const struct path *to_path)
{
	struct romlock_names *n;
	int ret;

	if (!romlock_sealed())
		return 0;
	/*
	 * This attaches fsmount() results and open_tree() clones (a bind
	 * mount) as well as moving mounts: none is expressible in the
	 * policy, and refusing here is what makes the new mount API unable
	 * to bypass sb_mount.
	 */
	n = romlock_names_alloc();
	ret = romlock_deny(ROMLOCK_OP_MOVE,
			   "move_mount %s to %s (attaching or moving mounts is refused)",
			   name_a(n, from_path), name_b(n, to_path));
	kfree(n);
	return ret;
}

/*
 * A detached mount is outside every mount table but usable through its fd
 * (openat, fchdir, execveat): a fresh writable, exec-able tmpfs would undo
 * "writable means noexec".  The policy has no detached mounts, so refuse.
 */
static int romlock_fsmount(const struct fs_context *fc, unsigned int mnt_flags)
{
	if (!romlock_sealed())
		return 0;
	return romlock_deny(ROMLOCK_OP_MOUNT,
			    "fsmount %s (detached mounts are refused once sealed)",
			    fc->fs_type ? fc->fs_type->name : "?");
}

static int romlock_mount_setattr(const struct path *path,
				 unsigned int attr_set, unsigned int attr_clr,
				 unsigned int propagation, bool recursive)
{
	struct romlock_names *n;
	unsigned int cleared;
	int ret = 0;

	if (!romlock_sealed())
		return 0;
	n = romlock_names_alloc();
	cleared = attr_clr & ROMLOCK_PROTECTIVE_MNT;
	if (cleared)
		ret = romlock_deny(ROMLOCK_OP_SETATTR,
				   "mount_setattr %s (clears %s)", name_a(n, path),
				   romlock_mnt_flag_name(cleared));
	else if (propagation)
		ret = romlock_deny(ROMLOCK_OP_PROPAGATION,
				   "propagation change on %s (mount_setattr)",
				   name_a(n, path));
	else
		romlock_allow(ROMLOCK_OP_SETATTR,
			      "mount_setattr %s%s (no protective flag cleared)",
			      name_a(n, path), recursive ? " recursive" : "");
	kfree(n);
	return ret;
}

static int romlock_sb_umount(struct vfsmount *mnt, int flags)
{
	struct path path = { .mnt = mnt, .dentry = mnt->mnt_root };
	struct romlock_names *n;
	int ret;

	if (!romlock_sealed())
		return 0;
	n = romlock_names_alloc();
	ret = romlock_deny(ROMLOCK_OP_UMOUNT, "umount %s (umount is refused)",
			   name_a(n, &path));
	kfree(n);
	return ret;
}

static int romlock_sb_pivotroot(const struct path *old_path,
				const struct path *new_path)
{
	struct romlock_names *n;
	int ret;

	if (!romlock_sealed())
		return 0;
	n = romlock_names_alloc();
	ret = romlock_deny(ROMLOCK_OP_PIVOT_ROOT,
			   "pivot_root %s (pivot_root is refused)",
			   name_a(n, new_path));
	kfree(n);
	return ret;
}

static int romlock_path_chroot(const struct path *path)
{
	const struct romlock_rule *rule;
	struct romlock_names *n;
	int ret = 0;

	if (!romlock_sealed())
		return 0;
	n = romlock_names_alloc();
	/*
	 * chroot(2) resolved the name already (following symlinks), so this
	 * compares the directory itself with the one each rule resolved to.
	 */
	rule = romlock_find_chroot_rule(path->dentry);
	if (rule) {
		/* From here on the caller, and all it starts, is in that jail (jail.c). */
		romlock_enter_jail(rule);
		romlock_allow(ROMLOCK_OP_CHROOT, "chroot %s (enters the jail)",
			      name_a(n, path));
	} else
		ret = romlock_deny(ROMLOCK_OP_CHROOT, "chroot %s (not in policy)",
				   name_a(n, path));
	kfree(n);
	return ret;
}

static struct security_hook_list romlock_mount_hooks[] __ro_after_init = {
	LSM_HOOK_INIT(sb_mount, romlock_sb_mount),
	LSM_HOOK_INIT(sb_remount, romlock_sb_remount),
	LSM_HOOK_INIT(move_mount, romlock_move_mount),
	LSM_HOOK_INIT(fsmount, romlock_fsmount),
	LSM_HOOK_INIT(mount_setattr, romlock_mount_setattr),
	LSM_HOOK_INIT(sb_umount, romlock_sb_umount),
	LSM_HOOK_INIT(sb_pivotroot, romlock_sb_pivotroot),
	LSM_HOOK_INIT(path_chroot, romlock_path_chroot),
};

void __init romlock_add_mount_hooks(void)
{
	security_add_hooks(romlock_mount_hooks, ARRAY_SIZE(romlock_mount_hooks),
			   &romlock_lsmid);
}
