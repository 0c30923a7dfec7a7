//go:build unix && !linux

package pgserver

import "syscall"

// procAttr runs a child as cred (nil: the calling user).
func procAttr(cred *syscall.Credential) *syscall.SysProcAttr {
	if cred == nil {
		return nil
	}
	return &syscall.SysProcAttr{Credential: cred}
}
