/**
 * Python tracebacks, split into frames so the step panel can put the user's own frames
 * first and fold the frames of flowyml and the async machinery under it.
 */

export interface Frame {
  file: string;
  line: number;
  fn: string;
  /** the source line and any `^^^` markers under it */
  code: string[];
  /** a frame of flowyml, anyio, asyncio, ... rather than of the user's code */
  framework: boolean;
}

export type TracebackBlock = { kind: 'text'; lines: string[] } | { kind: 'frames'; frames: Frame[] };

// Folders whose frames are plumbing from the user's point of view.
const FRAMEWORK_DIR =
  /[\\/](flowyml|anyio|asyncio|concurrent|sniffio|starlette|uvicorn|fastapi|distributed|dask|msgspec|fsspec|aiosqlite)[\\/]/;
const FRAMEWORK_FILE = /[\\/](threading|runpy|contextlib)\.py$|^<frozen /;
const FRAME_LINE = /^\s*(?:\|\s*)?File "(.+)", line (\d+), in (.+)$/;

export function isFrameworkFile(file: string): boolean {
  return FRAMEWORK_DIR.test(file) || FRAMEWORK_FILE.test(file);
}

function indentOf(line: string): number {
  return line.length - line.trimStart().length;
}

/** Split a traceback into text blocks (headers, the exception) and runs of frames. */
export function parseTraceback(text: string): TracebackBlock[] {
  const blocks: TracebackBlock[] = [];
  const lines = text.replace(/\r\n/g, '\n').replace(/\n+$/, '').split('\n');
  let frame: Frame | null = null;
  let frameIndent = 0;
  const last = () => blocks[blocks.length - 1];
  const pushText = (line: string) => {
    const b = last();
    if (b && b.kind === 'text') b.lines.push(line);
    else blocks.push({ kind: 'text', lines: [line] });
  };
  for (const line of lines) {
    const m = FRAME_LINE.exec(line);
    if (m) {
      frame = { file: m[1] ?? '', line: Number(m[2]), fn: m[3] ?? '', code: [], framework: isFrameworkFile(m[1] ?? '') };
      frameIndent = indentOf(line);
      const b = last();
      if (b && b.kind === 'frames') b.frames.push(frame);
      else blocks.push({ kind: 'frames', frames: [frame] });
      continue;
    }
    if (frame && line.trim() !== '' && indentOf(line) > frameIndent) {
      frame.code.push(line.trim());
      continue;
    }
    frame = null;
    pushText(line);
  }
  return blocks;
}

export interface FrameGroup {
  /** the user's frames of one run of frames, in call order */
  user: Frame[];
  /** the framework frames of the same run (folded in the view) */
  framework: Frame[];
}

/** Per block of frames: the user's frames first, the framework's after them. */
export function groupFrames(frames: readonly Frame[]): FrameGroup {
  return { user: frames.filter((f) => !f.framework), framework: frames.filter((f) => f.framework) };
}

