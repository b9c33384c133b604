package gate

import (
	"fmt"
	"strings"

	"github.com/vigilsec/vigil/internal/store"
)

// countedText states every severity a decision counted, untriaged
// included, whatever the outcome: a reader of an approval must see that
// it approved, say, four findings nothing has scored, not only that the
// limits held.
func countedText(c store.Counts) string {
	parts := []string{
		fmt.Sprintf("%d critical", c.Critical), fmt.Sprintf("%d high", c.High), fmt.Sprintf("%d medium", c.Medium),
		fmt.Sprintf("%d low", c.Low), fmt.Sprintf("%d informational", c.Informational), fmt.Sprintf("%d untriaged", c.Untriaged),
	}
	s := "counted " + strings.Join(parts, ", ")
	if c.Untriaged > 0 {
		s += " (untriaged: no score source rates them)"
	}
	return s
}
