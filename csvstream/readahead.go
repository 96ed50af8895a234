package csvstream

import (
	"errors"
	"fmt"
	"io"
	"sync"
)

// chunk is one range of an object, [start, end), fetched into buf by its
// own goroutine while the reader takes the bytes already there: the
// fetcher writes only past filled, and the reader reads only below it.
type chunk struct {
	start, end int64
	buf        []byte        // end-start bytes
	wake       chan struct{} // holds a signal once filled grows or the fetch ends

	mu      sync.Mutex
	filled  int   // bytes of buf fetched
	done    bool  // the fetch has ended
	err     error // why it failed, if it did
	resumes int   // bodies reopened after one broke
}

// signal wakes a reader waiting for c, or leaves the wake-up for its next
// wait.
func (c *chunk) signal() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// readAhead fetches an object's chunks ahead of an ObjectReader's Reads,
// each with its own ranged GET, and hands their bytes over in order. At most
// opt.Concurrency chunks are fetched or held at once, the one being read
// included, so its memory is bounded by Concurrency × ChunkSize.
type readAhead struct {
	r  *ObjectReader
	wg sync.WaitGroup

	next  int64    // start of the next chunk to fetch
	queue []*chunk // fetching or fetched, in order; queue[0] is being read
	pos   int      // bytes of queue[0] returned
	spare [][]byte // buffers of chunks already read

	// failed is closed when a fetch fails for good, with failErr saying
	// why, so that the read fails at once rather than once it reaches
	// that chunk, which may wait behind a stalled one.
	failed   chan struct{}
	failOnce sync.Once
	failErr  error
}

// newReadAhead starts fetching r's first chunks. first is the body of the
// object's first, whole GET: it serves the first chunk, so that the
// response already open is not wasted.
func newReadAhead(r *ObjectReader, first io.ReadCloser) *readAhead {
	a := &readAhead{r: r, failed: make(chan struct{})}
	a.fill(first)
	return a
}

// fill starts fetching chunks until opt.Concurrency are queued or the
// object is covered. The first one started reads first, if not nil.
func (a *readAhead) fill(first io.ReadCloser) {
	r := a.r
	for len(a.queue) < r.opt.Concurrency && a.next < r.size {
		c := &chunk{start: a.next, end: min(a.next+r.opt.ChunkSize, r.size), wake: make(chan struct{}, 1)}
		if n := len(a.spare); n > 0 {
			c.buf, a.spare = a.spare[n-1], a.spare[:n-1]
		} else {
			c.buf = make([]byte, r.opt.ChunkSize)
		}
		c.buf = c.buf[:c.end-c.start]
		a.next = c.end
		a.queue = append(a.queue, c)
		a.wg.Add(1)
		go a.fetch(c, first)
		first = nil
	}
}

// stop ends every fetch and waits for their goroutines to return.
func (a *readAhead) stop() {
	a.r.cancel()
	a.wg.Wait()
}

// readChunks is Read over the chunks: it returns the next chunk's bytes as
// they arrive, waiting for them when there are none yet, and starts the
// next fetch once a chunk is read whole. A fetch that fails for good fails
// the read at once, even while an earlier chunk is still arriving.
func (r *ObjectReader) readChunks(p []byte) (int, error) {
	a := r.ahead
	for {
		// As on one stream, a stopped job gets no more bytes, even those
		// already fetched.
		if r.ctx.Err() != nil {
			return 0, r.fail(r.stopped())
		}
		select {
		case <-a.failed:
			return 0, r.fail(r.errorf("read", a.firstError()))
		default:
		}
		if len(a.queue) == 0 {
			return 0, r.finish()
		}
		c := a.queue[0]
		c.mu.Lock()
		filled, done, err := c.filled, c.done, c.err
		c.mu.Unlock()
		if a.pos < filled {
			n := copy(p, c.buf[a.pos:filled])
			a.pos += n
			r.offset += int64(n)
			if r.sum != nil {
				r.sum.Write(p[:n])
			}
			return n, nil
		}
		if !done {
			select {
			case <-c.wake:
			case <-a.failed:
			case <-r.ctx.Done():
				return 0, r.fail(r.stopped())
			}
			continue
		}
		if err != nil {
			return 0, r.fail(r.errorf("read", err))
		}
		r.resumes += c.resumeCount()
		a.spare = append(a.spare, c.buf)
		a.queue[0] = nil
		a.queue, a.pos = a.queue[1:], 0
		a.fill(nil)
	}
}

// firstError returns why the read fails once a fetch has failed for good:
// the failure of the chunk being read, if it has one, as it comes first in
// the object, and otherwise the first failure in time.
func (a *readAhead) firstError() error {
	if len(a.queue) > 0 {
		c := a.queue[0]
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.done && c.err != nil {
			return c.err
		}
	}
	return a.failErr
}

// resumes returns the reopens of the chunks still queued, fetched or not.
func (a *readAhead) resumes() int {
	n := 0
	for _, c := range a.queue {
		n += c.resumeCount()
	}
	return n
}

func (c *chunk) resumeCount() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.resumes
}

// fetch reads chunk c into c.buf: from body, when not nil, and otherwise
// with a ranged GET. A body that breaks is reopened where it stopped with
// reopenRange, as on one stream.
func (a *readAhead) fetch(c *chunk, body io.ReadCloser) {
	defer a.wg.Done()
	r := a.r
	ctx := r.ctx
	got, fails := 0, 0
	from := 0             // where in the chunk the current body started
	opened := body != nil // a body has been read, so that a new one resumes it
	var broke error       // why the last body or GET failed
	err := func() error {
		for got < len(c.buf) {
			if err := ctx.Err(); err != nil {
				return err
			}
			if body == nil {
				off := c.start + int64(got)
				var err error
				if broke == nil {
					// The range's first GET; one that failed in a way
					// another attempt may mend is tried again below.
					body, err = r.get(off, c.end)
					if err != nil && ctx.Err() == nil && !errors.Is(err, ErrSourceChanged) && !permanent(err) {
						broke, err = err, nil
					}
				}
				if body == nil && err == nil {
					body, err = r.reopenRange(off, c.end, &fails, broke)
				}
				if err != nil {
					if cerr := ctx.Err(); cerr != nil {
						return cerr
					}
					return err
				}
				if opened {
					c.mu.Lock()
					c.resumes++
					c.mu.Unlock()
				}
				from, opened = got, true
			}
			n, err := body.Read(c.buf[got:])
			if n > 0 {
				got += n
				fails = 0
				c.mu.Lock()
				c.filled = got
				c.mu.Unlock()
				c.signal()
			}
			if got == len(c.buf) || err == nil {
				// Done, or more to read. The first body goes on past its
				// chunk; the rest of it is not needed.
				continue
			}
			body.Close()
			body = nil
			how := "broke"
			if err == io.EOF {
				how, err = "ended", io.ErrUnexpectedEOF
			}
			broke = fmt.Errorf("body for bytes %d-%d %s after %d of them: %w", c.start+int64(from), c.end-1, how, got-from, err)
		}
		return nil
	}()
	if body != nil {
		body.Close()
	}
	c.mu.Lock()
	c.done, c.err = true, err
	c.mu.Unlock()
	c.signal()
	if err != nil && ctx.Err() == nil {
		a.failOnce.Do(func() {
			a.failErr = err
			close(a.failed)
		})
	}
}
