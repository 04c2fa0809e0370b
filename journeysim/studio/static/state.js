// What the page holds: the map being edited, its baseline and numbers, history, selection.

export const params = new URLSearchParams(location.search);
export const S = {
  name: null, revision: null, baseline: null, map: null, baseMetrics: null, metrics: null, flows: null,
  warnings: [], history: [], future: [], group: null, selected: null, segment: "", layout: null, layoutKey: null,
  hypothesis: null, job: null, refusal: null, entries: [], pendingSelect: null,
};
