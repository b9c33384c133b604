package cli

import (
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/vigilsec/vigil/internal/analyze"
)

// showProgress draws one status line on w until the returned stop is
// called. With a nil p it draws nothing.
func showProgress(w io.Writer, p *analyze.Progress, name string) (stop func()) {
	if p == nil {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(150 * time.Millisecond)
		defer t.Stop()
		drawn := false
		for {
			select {
			case <-done:
				if drawn {
					fmt.Fprint(w, "\r\033[K")
				}
				return
			case <-t.C:
				line := fmt.Sprintf("analysing %s: layer %d/%d", name, p.LayersDone.Load(), p.Layers.Load())
				if total := p.Bytes.Load(); total > 0 {
					line += fmt.Sprintf(", %s / %s", mib(p.BytesRead.Load()), mib(total))
				} else if read := p.BytesRead.Load(); read > 0 {
					line += ", " + mib(read)
				}
				fmt.Fprint(w, "\r\033[K"+line)
				drawn = true
			}
		}
	}()
	return func() {
		close(done)
		wg.Wait()
	}
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }
