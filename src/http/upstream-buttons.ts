/** An upstream as the sign-in pages show it. */
export interface UpstreamButton {
  /** The upstream's `name`: the button label. */
  name: string;
  /** A plain link (works without JavaScript) to the start of a sign-in there. */
  href: string;
}

/**
 * The buttons of the sign-in pages, one per upstream, each a link to
 * `/federation/<id>/start` carrying where the sign-in returns: the authorization flow's
 * interaction uid, or the web page to open after sign-in.
 */
export function upstreamButtons(
  upstreams: ReadonlyArray<{ id: string; name: string }>,
  target: { interaction: string } | { next: string },
): UpstreamButton[] {
  const query = new URLSearchParams(
    'interaction' in target ? { interaction: target.interaction } : { next: target.next },
  );
  return upstreams.map((u) => ({
    name: u.name,
    href: `/federation/${encodeURIComponent(u.id)}/start?${query}`,
  }));
}
