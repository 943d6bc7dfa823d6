// An image attachment with antd's zoomable preview, in a chunk of its own: it loads with the
// first image a member opens, not with the inbox (docs/console.md, "Weight").
import { Image } from 'antd';

export default function ImagePreview({ src, alt }: { src: string; alt: string }) {
  return <Image src={src} alt={alt} width={200} className="message-image" />;
}
