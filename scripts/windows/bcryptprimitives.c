/*
 * A stand-in for bcryptprimitives.dll, for running Windows builds under Wine 8 only.
 *
 * Rust's standard library on Windows takes its random numbers from ProcessPrng in
 * bcryptprimitives.dll (Windows 10 and later). Wine before 9.0 has no such DLL, so every Rust
 * program exits at start with code 53 and no message. This DLL exports the one function, over
 * BCryptGenRandom (which Wine has). scripts/windows-e2e builds it with mingw-w64 and puts it in
 * the throwaway Wine prefix; it is never shipped.
 */
#include <windows.h>
#include <bcrypt.h>

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length)
{
    while (length > 0) {
        ULONG chunk = length > 0x40000000 ? 0x40000000 : (ULONG)length;
        if (!BCRYPT_SUCCESS(BCryptGenRandom(NULL, data, chunk, BCRYPT_USE_SYSTEM_PREFERRED_RNG)))
            return FALSE;
        data += chunk;
        length -= chunk;
    }
    return TRUE;
}
