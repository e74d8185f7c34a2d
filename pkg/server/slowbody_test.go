package server

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// A caller that sends the headers and then trickles the body is cut off at
// the request's deadline (?timeout less a tenth): the connection gets an
// answer or is closed, instead of being held for as long as the caller
// likes.
func TestSlowBodyIsCutOffAtTheDeadline(t *testing.T) {
	validate, _ := handlers(t)
	srv := httptest.NewServer(validate)
	defer srv.Close()
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST %s?timeout=1s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{\"apiVersion\":", ValidatePath)
	// Trickle a byte now and then, far slower than the body needs.
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(200 * time.Millisecond):
				if _, err := conn.Write([]byte(" ")); err != nil {
					return
				}
			}
		}
	}()
	// Without the read deadline the server waits for the 100,000 bytes
	// forever; the bound here only keeps a broken build from hanging.
	if err := conn.SetReadDeadline(time.Now().Add(20 * time.Second)); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	switch {
	case err == nil:
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Logf("answered %s", resp.Status) // a review with an error: fine
		}
	case isTimeout(err):
		t.Fatal("the server still held the connection after 20 s of a trickled body")
	default:
		// Closed by the server: fine.
	}
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}
