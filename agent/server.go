package agent

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// MaxFrameSize bounds one request. A larger length prefix closes the
// connection before anything is allocated for it.
const MaxFrameSize = 100 << 20

// maxInFlight bounds the requests one connection may have between decoding
// and answering; the reader stops reading while it is reached.
const maxInFlight = 64

// anonymousPrincipal is Kafka's principal for a client that did not
// authenticate (a PLAINTEXT or SSL-without-client-certificate listener).
const anonymousPrincipal = "User:ANONYMOUS"

// reply is what a handler returns for one request.
type reply struct {
	// resp is the response, if it is ready.
	resp kmsg.Response
	// wait, if set, is called by the connection's writer (in request
	// order) to produce the response; it must return when ctx ends.
	wait func(ctx context.Context) kmsg.Response
	// none: send nothing back (a produce with acks=0).
	none bool
}

// request is one decoded request and what came with it.
type request struct {
	key, version  int16
	correlationID int32
	clientID      string
	// user is the connection's quota user when the request was read
	// (quotaUser of its principal).
	user     string
	body     kmsg.Request
	received time.Time
}

// conn is one client connection.
type conn struct {
	a      *Agent
	nc     net.Conn
	ctx    context.Context // cancelled when the connection closes
	cancel context.CancelFunc
	log    *slog.Logger

	// principal is who the client authenticated as, in Kafka's form
	// ("User:alice"); "User:ANONYMOUS" on a connection without
	// authentication, as Kafka names it. The authorizer checks ACLs
	// against it and clientHost.
	principal string
	// clientHost is the client's IP address, the host of Kafka's ACLs.
	clientHost string
	// testPrincipalSet: a test's hook has named the principal
	// (testAssumePrincipal).
	testPrincipalSet bool
	// listener is the listener the connection came in on (nil for one
	// made inside the agent); auth its SASL state (sasl.go).
	listener *listener
	auth     connAuth

	replies chan pendingReply
	// deferredProduces counts this connection's produce requests whose
	// appends wait in their reply's wait (handleProduce).
	deferredProduces atomic.Int32
	// mutedUntil is when a client over a quota may send again (unix ns;
	// quotas.go): the reader reads nothing before.
	mutedUntil atomic.Int64
}

type pendingReply struct {
	req   *request
	reply reply
	held  int64 // bytes of the agent's request budget, released once answered
	// rawToken, when set, is sent as a bare size-prefixed SASL token
	// instead of resp (SaslHandshake v0's exchange, sasl.go).
	rawToken *[]byte
	// handling is how long the handler took, outside any wait.
	handling time.Duration
}

// serveConn runs a connection until the client or the agent closes it.
func (a *Agent) serveConn(ctx context.Context, nc net.Conn, l *listener) {
	nc, principal, err := a.secure(ctx, nc, l)
	if err != nil {
		a.log.Info("refusing connection", "err", err)
		return
	}
	ctx, cancel := context.WithCancel(ctx)
	c := &conn{
		a: a, nc: nc, ctx: ctx, cancel: cancel,
		log:       a.log.With("client", nc.RemoteAddr().String()),
		replies:   make(chan pendingReply, maxInFlight),
		principal: principal,
		listener:  l,
		auth:      newConnAuth(l),
	}
	if host, _, err := net.SplitHostPort(nc.RemoteAddr().String()); err == nil {
		c.clientHost = host
	}
	var wg sync.WaitGroup
	wg.Go(c.writeLoop)
	// When the agent closes, stop reading; replies already owed are
	// still written before the connection closes.
	stop := context.AfterFunc(ctx, func() { nc.SetReadDeadline(time.Now()) })
	defer stop()
	err = c.readLoop()
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) && ctx.Err() == nil {
		c.log.Info("closing connection", "err", err)
	}
	close(c.replies)
	wg.Wait()
	cancel()
	nc.Close()
}

// readLoop decodes requests and dispatches them in order. It returns when
// the connection fails or a frame cannot be decoded: a malformed frame
// closes this connection and nothing else.
func (c *conn) readLoop() error {
	r := bufio.NewReaderSize(c.nc, 64<<10)
	var sizeBuf [4]byte
	for {
		if err := c.waitUnmuted(); err != nil {
			return err
		}
		if _, err := io.ReadFull(r, sizeBuf[:]); err != nil {
			return err
		}
		size := int32(binary.BigEndian.Uint32(sizeBuf[:]))
		if c.auth.raw { // a SASL token after SaslHandshake v0 (sasl.go)
			if err := c.readRawToken(r, size); err != nil {
				return err
			}
			continue
		}
		if limit := c.maxFrame(); size < 8 || size > limit {
			return fmt.Errorf("frame of %d bytes (limit %d)", size, limit)
		}
		// The frame's bytes come out of the agent's budget until it is
		// answered: beyond it, this connection waits here (budget.go).
		held, err := c.a.requests.acquire(c.ctx, int64(size))
		if err != nil {
			return err
		}
		start := time.Now()
		rep, req, err := c.readRequest(r, int(size))
		if err != nil {
			c.a.requests.release(held)
			return err
		}
		select {
		case c.replies <- pendingReply{req: req, reply: rep, held: held, handling: time.Since(start)}:
		case <-c.ctx.Done():
			c.a.requests.release(held)
			return c.ctx.Err()
		}
		if c.auth.closeAfterReply {
			return errAuthFailed // the answer is still written
		}
	}
}

// readRequest reads a frame of size bytes, decodes it and calls its
// handler.
func (c *conn) readRequest(r io.Reader, size int) (reply, *request, error) {
	frame, err := readFrame(r, size)
	if err != nil {
		return reply{}, nil, err
	}
	req, err := parseRequest(frame)
	if err != nil {
		return reply{}, nil, err
	}
	if err := c.admit(req); err != nil {
		return reply{}, nil, err
	}
	req.user = quotaUser(c.principal)
	c.a.capFetch(req)
	c.testAssumePrincipal(req)
	rep, err := c.handle(req)
	return rep, req, err
}

// wholeFrame is the largest frame read into one allocation of its full
// size, which saves the copies of growing a buffer (Kafka's clients send
// at most max.request.size, 1 MiB by default). Such a frame costs its size
// as soon as it is announced; the budget of queued request bytes, taken
// before the read, bounds how many do at once. A larger frame grows as it
// arrives, so a client that announces 100 MiB and sends 10 bytes costs one
// 1 MiB step, not 100 MiB.
const wholeFrame = 16 << 20

// readFrame reads a frame of size bytes.
func readFrame(r io.Reader, size int) ([]byte, error) {
	if size <= wholeFrame {
		buf := make([]byte, size)
		if _, err := io.ReadFull(r, buf); err != nil {
			return nil, fmt.Errorf("read frame: %w", err)
		}
		return buf, nil
	}
	const step = 1 << 20
	buf := make([]byte, 0, step)
	for len(buf) < size {
		n := min(size-len(buf), step)
		if cap(buf)-len(buf) < n {
			grown := make([]byte, len(buf), min(size, 2*cap(buf)+n))
			copy(grown, buf)
			buf = grown
		}
		if _, err := io.ReadFull(r, buf[len(buf):len(buf)+n]); err != nil {
			return nil, fmt.Errorf("read frame: %w", err)
		}
		buf = buf[:len(buf)+n]
	}
	return buf, nil
}

// parseRequest decodes the request header and body. Header v1 (client id)
// is used by every request silt serves; flexible versions add tagged
// fields (header v2).
func parseRequest(frame []byte) (*request, error) {
	if len(frame) < 8 {
		return nil, errors.New("request header truncated")
	}
	req := &request{
		key:           int16(binary.BigEndian.Uint16(frame[0:])),
		version:       int16(binary.BigEndian.Uint16(frame[2:])),
		correlationID: int32(binary.BigEndian.Uint32(frame[4:])),
		received:      time.Now(),
	}
	b := frame[8:]
	if len(b) < 2 {
		return nil, errors.New("request header truncated")
	}
	idLen := int16(binary.BigEndian.Uint16(b))
	b = b[2:]
	if idLen > 0 {
		if int(idLen) > len(b) {
			return nil, errors.New("client id truncated")
		}
		req.clientID = string(b[:idLen])
		b = b[idLen:]
	}
	body := kmsg.RequestForKey(req.key)
	if !supported(req.key, req.version) {
		// A client must ask for ApiVersions at a version it does not
		// know is served; it is answered at v0 with the versions. Kafka
		// closes the connection on any other unsupported request.
		if req.key == kmsg.ApiVersions.Int16() {
			return req, nil
		}
		return nil, fmt.Errorf("unsupported request: key %d (%s) v%d", req.key, kmsg.NameForKey(req.key), req.version)
	}
	body.SetVersion(req.version)
	if body.IsFlexible() {
		var err error
		if b, err = skipTags(b); err != nil {
			return nil, fmt.Errorf("%s v%d header: %w", kmsg.NameForKey(req.key), req.version, err)
		}
	}
	if err := body.ReadFrom(b); err != nil {
		return nil, fmt.Errorf("%s v%d: %w", kmsg.NameForKey(req.key), req.version, err)
	}
	req.body = body
	return req, nil
}

// skipTags skips a tagged-field section: a uvarint count, then for each a
// uvarint tag, a uvarint size and that many bytes.
func skipTags(b []byte) ([]byte, error) {
	n, l := binary.Uvarint(b)
	if l <= 0 || n > uint64(len(b)) {
		return nil, errors.New("bad tagged fields")
	}
	b = b[l:]
	for range n {
		_, l := binary.Uvarint(b)
		if l <= 0 {
			return nil, errors.New("bad tag")
		}
		b = b[l:]
		size, l := binary.Uvarint(b)
		if l <= 0 || size > uint64(len(b)-l) {
			return nil, errors.New("bad tag size")
		}
		b = b[l+int(size):]
	}
	return b, nil
}

// writeLoop sends replies in request order.
func (c *conn) writeLoop() {
	w := bufio.NewWriterSize(c.nc, 64<<10)
	var buf []byte
	broken := false
	for p := range c.replies {
		c.writeReply(w, &buf, p, &broken)
	}
	if !broken {
		w.Flush()
	}
}

// writeReply waits for one reply if it must, writes it and gives its
// request's bytes back to the agent's budget. A failure sets *broken and
// closes the connection; later replies are then only waited for.
func (c *conn) writeReply(w *bufio.Writer, buf *[]byte, p pendingReply, broken *bool) {
	defer c.a.requests.release(p.held)
	resp := p.reply.resp
	if p.reply.wait != nil {
		// Send what is buffered before waiting: a produce's answer
		// must not sit in the buffer until the next segment commits.
		if w.Buffered() > 0 && !*broken {
			if err := w.Flush(); err != nil {
				*broken = true
				c.cancel()
			}
		}
		var err error
		if resp, err = c.wait(p); err != nil {
			*broken = true
			c.cancel() // the reader stops; the connection closes
		}
	}
	c.a.metrics.observeRequest(p.req, time.Since(p.req.received))
	if p.rawToken != nil {
		if !*broken {
			c.writeRawToken(w, *p.rawToken, broken)
		}
		return
	}
	c.enforceQuotas(p, resp)
	if p.reply.none || resp == nil || *broken {
		return
	}
	if err := c.writeResponse(w, buf, p.req, resp); err != nil {
		*broken = true
		c.cancel()
		return
	}
	// Flush when nothing else is ready to go out with this response.
	if len(c.replies) == 0 {
		if err := w.Flush(); err != nil {
			*broken = true
			c.cancel()
		}
	}
}

// writeResponse frames resp into *buf and writes it to w; a Fetch
// response's record batches go from the cache to the socket as they are,
// by one vectored write for large ones (fetch_frame.go).
func (c *conn) writeResponse(w *bufio.Writer, buf *[]byte, req *request, resp kmsg.Response) error {
	f, ok := resp.(*fetchResponse)
	if !ok {
		*buf = appendResponse((*buf)[:0], req, resp)
		_, err := w.Write(*buf)
		return err
	}
	bufs := f.appendFrame((*buf)[:0], req)
	if len(bufs) > 0 {
		*buf = bufs[0][:0] // keep the grown buffer for the next response
	}
	if f.size < vectoredMin {
		for _, b := range bufs {
			if _, err := w.Write(b); err != nil {
				return err
			}
		}
		return nil
	}
	if err := w.Flush(); err != nil {
		return err
	}
	_, err := bufs.WriteTo(c.nc)
	return err
}

// enforceQuotas counts a request against its client's quotas and, when the
// client is over one, puts the throttle time into the response, withholds
// a fetch's records and mutes the connection (quotas.go).
func (c *conn) enforceQuotas(p pendingReply, resp kmsg.Response) {
	wait, fetchOver := c.a.throttle(p.req.user, p.req.clientID, requestUsage(p.req, resp, p.handling), time.Now())
	if wait <= 0 {
		return
	}
	if resp != nil {
		if fetchOver {
			withholdRecords(resp)
		}
		setThrottle(resp, wait)
	}
	c.mutedUntil.Store(time.Now().Add(wait).UnixNano())
	c.a.metrics.throttled.Inc()
}

// waitUnmuted waits until the connection is no longer muted.
func (c *conn) waitUnmuted() error {
	d := time.Until(time.Unix(0, c.mutedUntil.Load()))
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-c.ctx.Done():
		return c.ctx.Err()
	}
}

// handle calls the request's handler. A panic in it (a bug: handlers must
// not panic on any input) is recovered and returned as an error, which
// closes this connection; the agent and its other connections go on.
func (c *conn) handle(req *request) (rep reply, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = c.panicked(req, "handler", r)
		}
	}()
	return c.a.dispatch(c, req), nil
}

// wait calls a reply's wait function, recovering a panic as handle does.
func (c *conn) wait(p pendingReply) (resp kmsg.Response, err error) {
	defer func() {
		if r := recover(); r != nil {
			resp, err = nil, c.panicked(p.req, "reply wait", r)
		}
	}()
	return p.reply.wait(c.ctx), nil
}

// panicked logs a recovered panic with the request and the stack, counts
// it, and returns the error that closes the connection.
func (c *conn) panicked(req *request, where string, r any) error {
	name := kmsg.NameForKey(req.key)
	c.a.metrics.handlerPanics.WithLabelValues(name).Inc()
	c.log.Error("request handler panicked; closing the connection", "api", name, "api_key", req.key,
		"version", req.version, "in", where, "panic", r, "stack", string(debug.Stack()))
	return fmt.Errorf("%s v%d %s panicked: %v", name, req.version, where, r)
}

// appendResponse frames a response: size, correlation id, header tags
// (flexible responses, except ApiVersions, whose header is always v0 so a
// client can read it before it knows the versions), then the body.
func appendResponse(dst []byte, req *request, resp kmsg.Response) []byte {
	dst = append(dst, 0, 0, 0, 0)
	dst = binary.BigEndian.AppendUint32(dst, uint32(req.correlationID))
	if resp.IsFlexible() && resp.Key() != kmsg.ApiVersions.Int16() {
		dst = append(dst, 0)
	}
	dst = resp.AppendTo(dst)
	binary.BigEndian.PutUint32(dst, uint32(len(dst)-4))
	return dst
}
