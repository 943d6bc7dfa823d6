// An attachment in the transcript. Member downloads need the access token, which an <img> cannot
// send, so the file is fetched with it and shown from a blob URL.
import { FileOutlined } from '@ant-design/icons';
import { lazy, Suspense, useEffect, useState } from 'react';
import type { AttachmentRef } from '../../api/protocol';
import { session } from '../../auth/session';

const ImagePreview = lazy(() => import('./image-preview'));

export async function fetchAttachment(id: string): Promise<Blob> {
  const token = await session.accessToken();
  const response = await fetch(`/api/v1/attachments/${encodeURIComponent(id)}`, { headers: token ? { Authorization: `Bearer ${token}` } : {} });
  if (!response.ok) throw new Error(`HTTP ${response.status}`);
  return response.blob();
}

export function Attachment({ file }: { file: AttachmentRef }) {
  const [url, setUrl] = useState<string>();
  const image = file.content_type.startsWith('image/');

  useEffect(() => {
    if (!image) return;
    let revoked = false;
    let objectUrl: string | undefined;
    fetchAttachment(file.id)
      .then((blob) => {
        if (revoked) return;
        objectUrl = URL.createObjectURL(blob);
        setUrl(objectUrl);
      })
      .catch(() => undefined);
    return () => {
      revoked = true;
      if (objectUrl) URL.revokeObjectURL(objectUrl);
    };
  }, [file.id, image]);

  async function download() {
    const blob = await fetchAttachment(file.id);
    const link = document.createElement('a');
    link.href = URL.createObjectURL(blob);
    link.download = file.name;
    link.click();
    setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
  }

  if (image && url) {
    return (
      <Suspense fallback={<img src={url} alt={file.name} width={200} className="message-image" />}>
        <ImagePreview src={url} alt={file.name} />
      </Suspense>
    );
  }
  return (
    <button type="button" className="message-file" onClick={() => void download()}>
      <FileOutlined /> {file.name} <span className="message-file-size">{Math.max(1, Math.round(file.size / 1024))} KB</span>
    </button>
  );
}
