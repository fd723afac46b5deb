/* SPDX-License-Identifier: MIT */
/* vm/guest_guard.h - refuse to open AF_VSOCK connections outside the VM.
 *
 * On a development or CI host a vsock connect() goes to the hypervisor.  The
 * programs in vm/ connect for real, so they run only when all of these hold,
 * which is the case inside scripts/vm-test's guest and nowhere else we know:
 *   - VSOK_VM_GUEST=1 in the environment (set by vm/init.sh);
 *   - the vsock loopback transport is loaded (CID 1 stays in this kernel);
 *   - no transport that leaves the machine is loaded (virtio guest/host,
 *     VMCI, Hyper-V).
 */
#ifndef VSOK_VM_GUEST_GUARD_H
#define VSOK_VM_GUEST_GUARD_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static inline int vsok_vm_guest_check(const char *prog)
{
    static const char *const outward[] = {
        "/sys/module/vmw_vsock_virtio_transport",
        "/sys/module/vhost_vsock",
        "/sys/module/vmw_vsock_vmci_transport",
        "/sys/module/hv_sock",
    };
    const char *env = getenv("VSOK_VM_GUEST");
    if (env == NULL || strcmp(env, "1") != 0) {
        fprintf(stderr,
                "%s: refusing to run: not inside the vsok test VM (VSOK_VM_GUEST unset);"
                " use scripts/vm-test\n",
                prog);
        return 0;
    }
    if (access("/sys/module/vsock_loopback", F_OK) != 0) {
        fprintf(stderr, "%s: refusing to run: vsock_loopback transport not loaded\n", prog);
        return 0;
    }
    for (size_t i = 0; i < sizeof outward / sizeof outward[0]; i++) {
        if (access(outward[i], F_OK) == 0) {
            fprintf(stderr, "%s: refusing to run: %s is loaded, vsock could leave this machine\n", prog,
                    outward[i]);
            return 0;
        }
    }
    return 1;
}

#endif
