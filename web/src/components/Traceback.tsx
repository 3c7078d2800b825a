import { groupFrames, parseTraceback, type Frame } from '../diagnose/traceback';

function FrameView({ frame }: { frame: Frame }) {
  return (
    <li className={frame.framework ? 'frame frame-framework' : 'frame'}>
      <span className="frame-where">
        <span className="frame-fn">{frame.fn}</span> <span className="muted">{frame.file}</span>:{frame.line}
      </span>
      {frame.code.length > 0 && <code className="frame-code">{frame.code.join('\n')}</code>}
    </li>
  );
}

/**
 * A Python traceback: the user's frames first and in full, the frames of flowyml and
 * the async machinery (anyio, asyncio, threads) folded under them; long lines wrap.
 */
export function Traceback({ text }: { text: string }) {
  const blocks = parseTraceback(text);
  return (
    <div className="traceback" aria-label="Traceback">
      {blocks.map((b, i) => {
        if (b.kind === 'text') {
          const lines = b.lines.filter((l) => l.trim() !== '' && !l.startsWith('Traceback (most recent call last)'));
          return lines.length > 0 ? (
            <pre key={i} className="traceback-text">
              {lines.join('\n')}
            </pre>
          ) : null;
        }
        const { user, framework } = groupFrames(b.frames);
        return (
          <div key={i} className="traceback-frames">
            {user.length > 0 && (
              <ol className="frames" aria-label="Frames in your code">
                {user.map((f, j) => (
                  <FrameView key={j} frame={f} />
                ))}
              </ol>
            )}
            {framework.length > 0 && (
              <details className="frames-folded">
                <summary>
                  {framework.length} frame{framework.length === 1 ? '' : 's'} of flowyml and the async runtime
                </summary>
                <ol className="frames">
                  {framework.map((f, j) => (
                    <FrameView key={j} frame={f} />
                  ))}
                </ol>
              </details>
            )}
          </div>
        );
      })}
    </div>
  );
}
