//go:build !linux

package fabricatest

import "syscall"

func procAttr() *syscall.SysProcAttr { return nil }
