package tlsrptsend

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"
)

// LogCollector follows Postfix's log file into a StoreRecorder and keeps
// in the store, with the outcomes of each flush, how far it has read: a
// restart neither loses nor counts again a session. Where it resumes is
// the first line of the oldest session still open when the cursor was
// taken (PostfixParser.OldestOpen), so that the session lines before a
// delivery status are read again; the outcomes of the lines already
// read are dropped. A rotation while stopped is followed: the rest of
// the rotated file, found by its inode in the same directory, is read
// before the new file.
type LogCollector struct {
	Parser *PostfixParser
	Path   string
	// Recorder receives the outcomes; its Store keeps the cursor.
	Recorder *StoreRecorder
	// Name is the cursor's name in the store; "postfix-log:" and Path if
	// empty.
	Name string
	Poll time.Duration // how often to look for more at the end of Path
	Log  *slog.Logger
}

// logCursor is the stored position of a LogCollector.
type logCursor struct {
	Dev  uint64 `json:"dev"`
	Ino  uint64 `json:"ino"`
	Head string `json:"head,omitempty"`
	Next int64  `json:"next"` // where reading resumes: the first line of the oldest open session
	Done int64  `json:"done"` // the end of the last line whose outcomes are counted
}

// genShift puts the generation of the file (how many times the
// collector went over to another file, or back to the start) above the
// offset in the marks given to the parser.
const genShift = 48

// Run follows the log until ctx is done, and returns ctx's error or the
// error that stopped it.
func (c *LogCollector) Run(ctx context.Context) error {
	name := c.Name
	if name == "" {
		name = "postfix-log:" + c.Path
	}
	log := c.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var cur logCursor
	if s, err := c.Recorder.Store.OutcomeCursor(ctx, name); err != nil {
		return err
	} else if s != "" {
		if err := json.Unmarshal([]byte(s), &cur); err != nil {
			return fmt.Errorf("tlsrptsend: the stored position of %s: %w", c.Path, err)
		}
	}
	fl, lost, err := ResumeFollower(c.Path, FilePosition{Dev: cur.Dev, Ino: cur.Ino, Head: cur.Head, Offset: cur.Next}, c.Poll)
	if err != nil {
		return err
	}
	defer fl.Close()
	if lost {
		log.Warn("Postfix log rotated or truncated while stopped, and the rest of the old file not found: sessions logged there are not counted", "path", c.Path)
		cur = logCursor{}
	}
	pos := fl.Position()
	var gen int64
	replayTo := int64(-1) // the outcomes of lines ending there or before are counted already
	if !lost && pos.SameFile(FilePosition{Dev: cur.Dev, Ino: cur.Ino, Head: cur.Head}) {
		replayTo = cur.Done
	}
	next, sinceCheck := pos.Offset, 0
	// A file is known from its start, so that a rotation before its first
	// line is followed after a restart.
	known := func() {
		c.Recorder.Advance(nil, name, logCursor{Dev: pos.Dev, Ino: pos.Ino, Head: pos.Head, Next: pos.Offset, Done: pos.Offset})
	}
	if replayTo < 0 {
		known()
	}
	fl.OnSwitch = func() {
		gen++
		pos, replayTo, sinceCheck = fl.Position(), -1, 0
		known()
	}
	var outcomes []Outcome
	rec := RecorderFunc(func(o Outcome) { outcomes = append(outcomes, o) })
	for {
		line, err := fl.ReadLine(ctx)
		if err != nil {
			return err
		}
		at, start := fl.Position(), pos.Offset
		pos = at
		outcomes = outcomes[:0]
		c.Parser.ParseAt(line, gen<<genShift|start, rec)
		if at.Offset <= replayTo {
			continue
		}
		// The oldest open session only moves forward, and a session opened
		// later starts later: the oldest found now and then is a safe
		// place to resume, if not always the latest.
		if sinceCheck++; sinceCheck == 1 || sinceCheck >= 1024 {
			sinceCheck = 1
			next = at.Offset
			if mark, ok := c.Parser.OldestOpen(); ok {
				next = mark & (1<<genShift - 1)
				if mark>>genShift != gen {
					next = 0 // open since before a rotation: resume at the new file's start
				}
			}
		}
		c.Recorder.Advance(outcomes, name, logCursor{Dev: at.Dev, Ino: at.Ino, Head: at.Head, Next: next, Done: at.Offset})
	}
}
