package pgserver

import "syscall"

// procAttr runs a child as cred (nil: the calling user) and asks the kernel
// to send it SIGINT, PostgreSQL's fast shutdown, when the caller dies.
func procAttr(cred *syscall.Credential) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGINT}
}
