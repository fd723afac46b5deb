// vm/examples/go - a VSOK echo agent over AF_VSOCK with github.com/mdlayher/vsock.
//
//	echo-agent listen PORT     serve vsock:any:PORT, one goroutine per connection
//	echo-agent connect ADDR    connect to ADDR (vsock:CID:PORT), echo, exit
//
// Every valid message comes back as one frame; on a protocol error the
// connection is closed and the error named on stderr with its offset.
// Build and certify it: see vm/README.md ("Bring your own agent").
package main

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/mdlayher/vsock"
)

const (
	maxPayload = 1 << 20  // 1 MiB, inclusive
	chunk      = 64 << 10 // largest payload write
	idle       = 30 * time.Second
)

var magic = []byte("VSOK")

// readFrame returns the next payload; io.EOF only at a frame boundary.
// Each magic byte is checked as it arrives, and the payload buffer grows
// with the bytes received, not with the length the peer announced.
func readFrame(r *bufio.Reader, off *uint64) ([]byte, error) {
	var hdr [8]byte
	for i := 0; i < 8; i++ {
		b, err := r.ReadByte()
		if err != nil {
			if i == 0 && err == io.EOF {
				return nil, io.EOF
			}
			return nil, fmt.Errorf("Truncated at offset %d: %v", *off, err)
		}
		if i < 4 && b != magic[i] {
			return nil, fmt.Errorf("InvalidMagicBytes at offset %d", *off)
		}
		hdr[i] = b
		*off++
	}
	n := binary.BigEndian.Uint32(hdr[4:])
	if n == 0 {
		return nil, fmt.Errorf("InvalidTotalLength at offset %d", *off-4)
	}
	if n > maxPayload {
		return nil, fmt.Errorf("MessageTooLarge (%d) at offset %d", n, *off-4)
	}
	var buf strings.Builder
	got, err := io.CopyN(&buf, r, int64(n))
	*off += uint64(got)
	if err != nil {
		return nil, fmt.Errorf("Truncated at offset %d: %v", *off, err)
	}
	return []byte(buf.String()), nil
}

func writeFrame(w io.Writer, p []byte) error {
	var hdr [8]byte
	copy(hdr[:], magic)
	binary.BigEndian.PutUint32(hdr[4:], uint32(len(p)))
	if _, err := w.Write(hdr[:]); err != nil {
		return err
	}
	for len(p) > 0 {
		n := len(p)
		if n > chunk {
			n = chunk
		}
		if _, err := w.Write(p[:n]); err != nil {
			return err
		}
		p = p[n:]
	}
	return nil
}

func echo(c net.Conn) error {
	defer c.Close()
	r := bufio.NewReaderSize(c, chunk)
	var off uint64
	for {
		c.SetReadDeadline(time.Now().Add(idle))
		p, err := readFrame(r, &off)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if err := writeFrame(c, p); err != nil {
			return err
		}
	}
}

func main() {
	// Safety net for this repository only, delete it in your agent: never
	// open a vsock socket outside scripts/vm-test's guest.
	if os.Getenv("VSOK_VM_GUEST") != "1" {
		fmt.Fprintln(os.Stderr, "echo-agent: refusing to run outside the vsok test VM")
		os.Exit(77)
	}
	if len(os.Args) != 3 {
		usage()
	}
	switch os.Args[1] {
	case "listen":
		port, err := strconv.ParseUint(os.Args[2], 10, 32)
		if err != nil {
			usage()
		}
		l, err := vsock.Listen(uint32(port), nil)
		if err != nil {
			fmt.Fprintln(os.Stderr, "echo-agent: listen:", err)
			os.Exit(2)
		}
		for {
			c, err := l.Accept()
			if err != nil {
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					continue
				}
				fmt.Fprintln(os.Stderr, "echo-agent: accept:", err)
				continue
			}
			go func() {
				if err := echo(c); err != nil {
					fmt.Fprintln(os.Stderr, "echo-agent: connection:", err)
				}
			}()
		}
	case "connect":
		cid, port, ok := parseAddr(os.Args[2])
		if !ok {
			usage()
		}
		c, err := vsock.Dial(cid, port, nil)
		if err != nil {
			fmt.Fprintln(os.Stderr, "echo-agent: connect:", err)
			os.Exit(2)
		}
		if err := echo(c); err != nil {
			fmt.Fprintln(os.Stderr, "echo-agent:", os.Args[2]+":", err)
			os.Exit(1)
		}
	default:
		usage()
	}
}

// parseAddr reads vsock:CID:PORT, CID a number or "local" (1).
func parseAddr(s string) (uint32, uint32, bool) {
	f := strings.Split(s, ":")
	if len(f) != 3 || f[0] != "vsock" {
		return 0, 0, false
	}
	cid := uint64(1)
	if f[1] != "local" {
		var err error
		if cid, err = strconv.ParseUint(f[1], 10, 32); err != nil {
			return 0, 0, false
		}
	}
	port, err := strconv.ParseUint(f[2], 10, 32)
	return uint32(cid), uint32(port), err == nil
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: echo-agent listen PORT | echo-agent connect vsock:CID:PORT")
	os.Exit(2)
}
