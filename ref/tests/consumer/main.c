/* SPDX-License-Identifier: MIT */
/* Uses a little of every installed header; exits 0 when the library works. */
#include <stdio.h>
#include <string.h>
#include <vsok/vsok.h>

int main(void)
{
    uint8_t frame[8 + 5];
    if (vsok_header_encode(frame, 5) != VSOK_OK)
        return 1;
    memcpy(frame + 8, "hello", 5);
    vsok_decoder *d = vsok_decoder_new(0);
    if (d == NULL)
        return 2;
    size_t used = 0;
    vsok_msg msg;
    vsok_err err = vsok_decoder_feed(d, frame, sizeof frame, &used, &msg);
    int ok = err == VSOK_OK && msg.len == 5 && memcmp(msg.data, "hello", 5) == 0;
    vsok_decoder_free(d);
    if (!ok)
        return 3;
    if (strcmp(vsok_errname(VSOK_E_MAGIC), "InvalidMagicBytes") != 0)
        return 4;
    vsok_addr a;
    if (vsok_addr_parse(&a, "vsock:3:5000", NULL, 0) != VSOK_OK || a.cid != VSOK_CID_PARENT)
        return 5;
    printf("vsok %s ok\n", VSOK_VERSION_STRING);
    return 0;
}
