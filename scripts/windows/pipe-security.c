/*
 * Prints the security descriptor (owner and DACL, in SDDL) of the named pipe a running
 * signin-assistant agent serves, as the system reports it for a client's handle; for tests
 * under Wine, to see that the pipe was created granting its user alone. A test tool, never
 * shipped.
 *
 *   pipe-security [PIPE-NAME]
 *
 * Without a name, the pipe is the one this user's agent serves, named independently here from
 * this process's user SID: \\.\pipe\signin-assistant-<SID> (src/agent/control/windows.rs).
 * Prints the name, then the descriptor. Exits 0 after printing, 1 when the pipe cannot be
 * opened or read, 2 on a usage error. Opening takes one instance for an instant; the agent
 * drops it unanswered.
 */
#include <windows.h>
#include <aclapi.h>
#include <sddl.h>
#include <stdio.h>
#include <stdlib.h>

/* Writes this user's pipe name into `name`; returns 0 on failure. */
static int own_pipe_name(char *name, size_t size)
{
    HANDLE token;
    BYTE buffer[512];
    DWORD length;
    char *sid = NULL;
    if (!OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &token))
        return 0;
    BOOL ok = GetTokenInformation(token, TokenUser, buffer, sizeof buffer, &length);
    CloseHandle(token);
    if (!ok || !ConvertSidToStringSidA(((TOKEN_USER *)buffer)->User.Sid, &sid))
        return 0;
    snprintf(name, size, "\\\\.\\pipe\\signin-assistant-%s", sid);
    LocalFree(sid);
    return 1;
}

int main(int argc, char **argv)
{
    char own[256];
    const char *name;
    if (argc > 2) {
        fprintf(stderr, "usage: pipe-security [PIPE-NAME]\n");
        return 2;
    }
    if (argc == 2) {
        name = argv[1];
    } else if (own_pipe_name(own, sizeof own)) {
        name = own;
    } else {
        fprintf(stderr, "cannot read this user's SID (error %lu)\n", GetLastError());
        return 1;
    }
    printf("%s\n", name);
    HANDLE pipe = CreateFileA(name, READ_CONTROL, 0, NULL, OPEN_EXISTING, 0, NULL);
    if (pipe == INVALID_HANDLE_VALUE) {
        fprintf(stderr, "cannot open %s (error %lu)\n", name, GetLastError());
        return 1;
    }
    PSECURITY_DESCRIPTOR descriptor = NULL;
    DWORD rc = GetSecurityInfo(pipe, SE_KERNEL_OBJECT,
                               OWNER_SECURITY_INFORMATION | DACL_SECURITY_INFORMATION, NULL,
                               NULL, NULL, NULL, &descriptor);
    CloseHandle(pipe);
    if (rc != ERROR_SUCCESS) {
        fprintf(stderr, "GetSecurityInfo failed (error %lu)\n", rc);
        return 1;
    }
    char *text = NULL;
    if (!ConvertSecurityDescriptorToStringSecurityDescriptorA(
            descriptor, SDDL_REVISION_1, OWNER_SECURITY_INFORMATION | DACL_SECURITY_INFORMATION,
            &text, NULL)) {
        fprintf(stderr, "cannot convert the descriptor (error %lu)\n", GetLastError());
        LocalFree(descriptor);
        return 1;
    }
    printf("%s\n", text);
    LocalFree(text);
    LocalFree(descriptor);
    return 0;
}
