// The search page: text and shape queries against the hyperalign API, results drawn as 3D point clouds (three.js).
// Thumbnails share one offscreen WebGL renderer (browsers cap live WebGL contexts) and are copied to 2D canvases;
// the detail panel has one interactive viewer.
import * as THREE from 'three';
import { OrbitControls } from '/static/vendor/three/OrbitControls.js';

const BACKGROUND = 0x6b7785; // a mid tone, so black and white shapes both stand out
const BACKGROUND_LUMA = 0.46;
const THUMB_SIZE = 200;
const $ = (id) => document.getElementById(id);
const items = new Map(); // id -> promise of the /items payload
let generation = 0; // bumps on every new query so stale thumbnail work stops
// Turns the dataset's up axis (/health up_axis) onto three.js's +y: z-up data (the demo) stands upright.
const UP_ROTATIONS = { x: [0, 0, Math.PI / 2], y: [0, 0, 0], z: [-Math.PI / 2, 0, 0] };
let upRotation = new THREE.Euler(0, 0, 0);

function el(tag, attrs = {}, children = []) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  for (const child of [].concat(children)) node.append(child);
  return node;
}

function setStatus(message) {
  $('status').textContent = message || '';
}

async function api(path, options) {
  const response = await fetch(path, options);
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(body.detail || `${response.status} ${response.statusText}`);
  return body;
}

function loadItem(id) {
  if (!items.has(id)) items.set(id, api(`/items/${encodeURIComponent(id)}`));
  return items.get(id);
}

// ---------------------------------------------------------------------------------------------- 3D
function makeRenderer(canvas) {
  try {
    const renderer = new THREE.WebGLRenderer({ canvas, antialias: true, preserveDrawingBuffer: true });
    renderer.setClearColor(BACKGROUND);
    return renderer;
  } catch (error) {
    setStatus('3D views need WebGL, which this browser does not provide.');
    return null;
  }
}

// Point colours as stored, except those close to the background's brightness, which are pushed away from it.
function legible(colors) {
  const out = Float32Array.from(colors);
  for (let i = 0; i < out.length; i += 3) {
    const luma = 0.2126 * out[i] + 0.7152 * out[i + 1] + 0.0722 * out[i + 2];
    const gap = luma - BACKGROUND_LUMA;
    if (Math.abs(gap) < 0.22) {
      const shift = (gap >= 0 ? 1 : -1) * (0.22 - Math.abs(gap));
      for (let j = 0; j < 3; j++) out[i + j] = Math.min(1, Math.max(0, out[i + j] + shift));
    }
  }
  return out;
}

function cloudObject(item) {
  const geometry = new THREE.BufferGeometry();
  geometry.setAttribute('position', new THREE.Float32BufferAttribute(item.positions, 3));
  if (item.colors) geometry.setAttribute('color', new THREE.Float32BufferAttribute(legible(item.colors), 3));
  geometry.computeBoundingSphere();
  const { center, radius } = geometry.boundingSphere;
  const scale = radius > 0 ? 1 / radius : 1;
  // Sparse clouds get bigger points: about one point diameter per mean spacing on the unit sphere.
  const size = Math.min(0.14, Math.max(0.04, 2.4 / Math.sqrt(item.n_points)));
  const material = new THREE.PointsMaterial({
    size, vertexColors: Boolean(item.colors), color: item.colors ? 0xffffff : 0x8fb8e0,
  });
  const points = new THREE.Points(geometry, material);
  points.scale.setScalar(scale);
  points.position.copy(center).multiplyScalar(-scale);
  const upright = new THREE.Group(); // the cloud centred at the origin, then turned so its up axis points up
  upright.add(points);
  upright.rotation.copy(upRotation);
  return upright;
}

function disposeCloud(cloud) {
  cloud.traverse((node) => {
    if (node.isPoints) {
      node.geometry.dispose();
      node.material.dispose();
    }
  });
}

function makeCamera(aspect) {
  const camera = new THREE.PerspectiveCamera(35, aspect, 0.05, 50);
  camera.position.set(1.9, 1.3, 2.6);
  camera.lookAt(0, 0, 0);
  return camera;
}

const thumbs = {
  renderer: null,
  camera: makeCamera(1),
  draw(canvas, item) {
    if (!this.renderer) {
      this.renderer = makeRenderer(document.createElement('canvas'));
      if (!this.renderer) return;
      this.renderer.setSize(THUMB_SIZE, THUMB_SIZE, false);
    }
    const scene = new THREE.Scene();
    const cloud = cloudObject(item);
    scene.add(cloud);
    this.renderer.render(scene, this.camera);
    canvas.getContext('2d').drawImage(this.renderer.domElement, 0, 0, canvas.width, canvas.height);
    disposeCloud(cloud);
    canvas.dataset.rendered = 'true';
  },
};

const viewer = {
  renderer: null,
  scene: new THREE.Scene(),
  camera: null,
  controls: null,
  cloud: null,
  show(item) {
    const canvas = $('viewer');
    if (!this.renderer) {
      this.renderer = makeRenderer(canvas);
      if (!this.renderer) return;
      this.renderer.setPixelRatio(window.devicePixelRatio || 1);
      this.renderer.setSize(canvas.width, canvas.height, false);
      this.camera = makeCamera(canvas.width / canvas.height);
      this.controls = new OrbitControls(this.camera, canvas);
      this.controls.autoRotate = true;
      this.controls.autoRotateSpeed = 1.5;
      const loop = () => {
        this.controls.update();
        this.renderer.render(this.scene, this.camera);
        requestAnimationFrame(loop);
      };
      requestAnimationFrame(loop);
    }
    if (this.cloud) {
      this.scene.remove(this.cloud);
      disposeCloud(this.cloud);
    }
    this.cloud = cloudObject(item);
    this.scene.add(this.cloud);
    canvas.dataset.item = item.id;
  },
};

// ---------------------------------------------------------------------------------------------- results
function hitLine(hit, onClick) {
  const parts = [el('span', { class: 'dist' }, hit.distance.toFixed(3))];
  if (hit.cone_violation !== null && hit.cone_violation !== undefined) {
    const inside = hit.cone_violation === 0;
    const label = inside ? 'in cone' : `+${(hit.cone_violation * 180 / Math.PI).toFixed(1)}°`;
    parts.push(el('span', { class: inside ? 'cone inside' : 'cone', title: 'angle outside the entailment cone' }, label));
  }
  if (hit.kind === 'caption') parts.push(el('span', { class: 'level' }, hit.level || 'caption'));
  parts.push(hit.kind === 'shape' ? `${hit.id}: ${hit.text}` : hit.text);
  const li = el('li', { 'data-kind': hit.kind, 'data-id': hit.id }, parts);
  li.title = hit.generality === null ? '' : `distance from the origin ${hit.generality.toFixed(3)}`;
  li.addEventListener('click', onClick);
  return li;
}

function openHit(hit) {
  if (hit.kind === 'shape') showDetail(hit.id);
  else runTextSearch(hit.text);
}

async function renderShapeResults(body) {
  const mine = ++generation;
  clearDetail();
  const list = $('results');
  list.replaceChildren();
  $('caption-results').replaceChildren();
  $('results-title').textContent = `${body.results.length} shapes for “${body.query}” (${body.took_ms} ms)`;
  const cards = body.results.map((hit) => {
    const canvas = el('canvas', { width: THUMB_SIZE, height: THUMB_SIZE, 'aria-label': `3D view of ${hit.id}` });
    const li = el('li', { class: 'result', 'data-id': hit.id, 'data-rank': String(hit.rank) }, [
      canvas,
      el('div', {}, [el('span', { class: 'rank' }, `#${hit.rank}`), el('span', { class: 'distance' }, `d = ${hit.distance.toFixed(3)}`)]),
      el('div', { class: 'id' }, hit.id),
      el('div', { class: 'text' }, hit.text),
    ]);
    li.addEventListener('click', () => showDetail(hit.id));
    list.append(li);
    return { hit, canvas };
  });
  document.body.dataset.results = String(mine);
  for (const { hit, canvas } of cards) {
    try {
      const item = await loadItem(hit.id);
      if (mine !== generation) return;
      thumbs.draw(canvas, item);
    } catch (error) {
      setStatus(`could not load ${hit.id}: ${error.message}`);
    }
  }
  if (mine === generation) document.body.dataset.rendered = String(mine);
}

function clearDetail() {
  $('detail').hidden = true;
  delete $('viewer').dataset.item;
  for (const card of document.querySelectorAll('.result.selected')) card.classList.remove('selected');
}

function renderCaptionResults(body) {
  generation++;
  clearDetail();
  $('results').replaceChildren();
  $('results-title').textContent = `${body.results.length} captions for ${body.query} (${body.took_ms} ms)`;
  $('caption-results').replaceChildren(...body.results.map((hit) => hitLine(hit, () => openHit(hit))));
}

async function showDetail(id) {
  for (const card of document.querySelectorAll('.result')) card.classList.toggle('selected', card.dataset.id === id);
  let item;
  try {
    item = await loadItem(id);
  } catch (error) {
    setStatus(error.message);
    return;
  }
  $('detail').hidden = false;
  $('detail-title').textContent = id;
  const meta = [`split ${item.split}`, item.node && `node ${item.node}`, item.license && `license ${item.license}`,
    item.creator && `by ${item.creator}`, `${item.n_points} points`].filter(Boolean);
  $('detail-meta').textContent = meta.join(' · ');
  $('detail-captions').replaceChildren(...item.captions.map((c) => el('li', {}, [el('span', { class: 'level' }, c.level), c.text])));
  viewer.show(item);
  for (const key of ['more-general', 'more-specific']) $(key).replaceChildren(el('li', { class: 'empty' }, 'loading…'));
  try {
    const h = await api(`/hierarchy/${encodeURIComponent(id)}?k=5`);
    for (const [key, hits] of [['more-general', h.more_general], ['more-specific', h.more_specific]]) {
      $(key).replaceChildren(...(hits.length ? hits.map((hit) => hitLine(hit, () => openHit(hit))) : [el('li', { class: 'empty' }, 'none')]));
    }
  } catch (error) {
    for (const key of ['more-general', 'more-specific']) $(key).replaceChildren(el('li', { class: 'empty' }, error.message));
  }
}

// ---------------------------------------------------------------------------------------------- queries
async function runTextSearch(query) {
  $('query').value = query;
  setStatus('');
  try {
    const body = await api('/search/text', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query, k: Number($('k').value), target: 'shapes' }),
    });
    await renderShapeResults(body);
  } catch (error) {
    setStatus(error.message);
  }
}

$('text-form').addEventListener('submit', (event) => {
  event.preventDefault();
  runTextSearch($('query').value);
});

$('shape-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const file = $('shape-file').files[0];
  if (!file) return;
  const form = new FormData();
  form.append('file', file);
  form.append('k', $('k').value);
  form.append('target', 'captions');
  setStatus('');
  try {
    renderCaptionResults(await api('/search/shape', { method: 'POST', body: form }));
  } catch (error) {
    setStatus(error.message);
  }
});

const health = api('/health').then((h) => {
  upRotation = new THREE.Euler(...(UP_ROTATIONS[h.up_axis] || UP_ROTATIONS.y));
  document.body.dataset.upAxis = h.up_axis;
  const space = h.space === 'lorentz' ? `Lorentz, c = ${h.curvature.toFixed(3)}` : 'cosine';
  $('index-info').textContent = `${h.dataset}: ${h.items} shapes, ${h.captions} captions · ${space} · ${h.kind} index`;
  $('query').maxLength = h.limits.max_query_chars;
}).catch((error) => setStatus(`the API is not answering: ${error.message}`));

const initial = new URLSearchParams(window.location.search).get('q');
if (initial) health.finally(() => runTextSearch(initial));
