package csvstream

import "golang.org/x/sys/unix"

// mountRoot reports whether path, following symbolic links, is the root of
// a mount: a file bind-mounted on its own, as docker run -v FILE:FILE
// mounts one. A rename cannot replace such a file (EBUSY). Kernels before
// 5.8 do not tell, and mountRoot reports false there.
func mountRoot(path string) bool {
	var st unix.Statx_t
	if unix.Statx(unix.AT_FDCWD, path, 0, unix.STATX_TYPE, &st) != nil {
		return false
	}
	return st.Attributes_mask&st.Attributes&unix.STATX_ATTR_MOUNT_ROOT != 0
}
