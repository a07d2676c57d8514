/*
 * Reports the end of a balloon to signin-assistant's balloon window the way the Windows shell
 * does: the icon's callback message with NIN_BALLOONUSERCLICK, NIN_BALLOONTIMEOUT or
 * NIN_BALLOONHIDE, in the NOTIFYICON_VERSION_4 layout (code in the low word of lParam, icon id
 * in the high word). For tests under Wine, whose notification area draws balloons but never
 * reports on them; a test tool, never shipped.
 *
 *   balloon-report click|timeout|hide [SECONDS]
 *
 * Waits up to SECONDS (default 20) for the balloon's window to exist, posts the message, and
 * exits 0; exits 1 when no balloon window appeared, 2 on a usage error.
 *
 * The names and numbers below are those of src/notify/windows.rs (WINDOW_CLASS,
 * CALLBACK_MESSAGE, ICON_ID).
 */
#include <windows.h>
#include <shellapi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BALLOON_WINDOW_CLASS L"signin-assistant-balloon"
#define BALLOON_CALLBACK_MESSAGE (WM_APP + 1)
#define BALLOON_ICON_ID 1

int main(int argc, char **argv)
{
    UINT code;
    int seconds = argc > 2 ? atoi(argv[2]) : 20;
    HWND window = NULL;
    int waited;

    if (argc < 2) {
        fprintf(stderr, "usage: balloon-report click|timeout|hide [SECONDS]\n");
        return 2;
    }
    if (!strcmp(argv[1], "click"))
        code = NIN_BALLOONUSERCLICK;
    else if (!strcmp(argv[1], "timeout"))
        code = NIN_BALLOONTIMEOUT;
    else if (!strcmp(argv[1], "hide"))
        code = NIN_BALLOONHIDE;
    else {
        fprintf(stderr, "balloon-report: unknown report %s\n", argv[1]);
        return 2;
    }
    for (waited = 0; waited < seconds * 10 && !window; waited++) {
        window = FindWindowW(BALLOON_WINDOW_CLASS, NULL);
        if (!window)
            Sleep(100);
    }
    if (!window) {
        fprintf(stderr, "balloon-report: no balloon window within %d s\n", seconds);
        return 1;
    }
    if (!PostMessageW(window, BALLOON_CALLBACK_MESSAGE, 0, MAKELPARAM(code, BALLOON_ICON_ID))) {
        fprintf(stderr, "balloon-report: PostMessage failed (error %lu)\n", GetLastError());
        return 1;
    }
    printf("reported %s to the balloon window\n", argv[1]);
    return 0;
}
