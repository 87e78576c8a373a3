// SPDX-License-Identifier: GPL-2.0
/*
 * udrv's UIO platform module: exposes a device-tree device's memory regions
 * and first interrupt through /dev/uioN, on the platform bus and on the AMBA
 * bus (pl011, pl031, pl061 ...), for udrv's platform route. Debian's kernels
 * build neither uio_pdrv_genirq nor vfio-platform, hence this module.
 *
 * Neither driver matches a device by itself (no compatibles, an AMBA id
 * table that is only its terminator): a device is bound only by writing
 * "udrv-uio-platform" to its driver_override and its name to the bus's
 * drivers_probe.
 *
 * Map N is the device's memory region N, widened to whole pages as uio
 * wants (sysfs maps/mapN/offset says where the region starts in it), named
 * by reg-names where the node has it. The interrupt handler masks the line
 * (its source stays asserted until the user acknowledges the device);
 * writing 1 to /dev/uioN unmasks it again, 0 masks it.
 */
#include <linux/amba/bus.h>
#include <linux/bitops.h>
#include <linux/interrupt.h>
#include <linux/module.h>
#include <linux/of.h>
#include <linux/platform_device.h>
#include <linux/spinlock.h>
#include <linux/uio_driver.h>

#define UDRV_UIO_DRIVER_NAME "udrv-uio-platform"

struct udrv_uio {
	struct uio_info info;
	spinlock_t lock;	/* serialises irqcontrol against itself */
	unsigned long masked;	/* bit 0: the handler or the user masked the line */
};

static irqreturn_t udrv_uio_handler(int irq, struct uio_info *info)
{
	struct udrv_uio *dev = info->priv;

	if (!test_and_set_bit(0, &dev->masked))
		disable_irq_nosync(irq);
	return IRQ_HANDLED;
}

static int udrv_uio_irqcontrol(struct uio_info *info, s32 irq_on)
{
	struct udrv_uio *dev = info->priv;
	unsigned long flags;

	/* The bit keeps the line's disable depth at 0 or 1, whatever the user writes. */
	spin_lock_irqsave(&dev->lock, flags);
	if (irq_on) {
		if (test_and_clear_bit(0, &dev->masked))
			enable_irq(info->irq);
	} else if (!test_and_set_bit(0, &dev->masked)) {
		disable_irq_nosync(info->irq);
	}
	spin_unlock_irqrestore(&dev->lock, flags);
	return 0;
}

/* Adds `res` as the next map; uio maps whole pages only. */
static int udrv_uio_add_map(struct device *parent, struct udrv_uio *dev,
			    unsigned int index, const struct resource *res)
{
	struct uio_mem *mem;
	const char *name = NULL;

	if (index >= MAX_UIO_MAPS) {
		dev_warn(parent, "more than %d memory regions: region %u and later are not mapped\n",
			 MAX_UIO_MAPS, index);
		return -ENOSPC;
	}
	mem = &dev->info.mem[index];
	of_property_read_string_index(parent->of_node, "reg-names", index, &name);
	mem->name = name;
	mem->memtype = UIO_MEM_PHYS;
	mem->addr = res->start & PAGE_MASK;
	mem->offs = res->start & ~PAGE_MASK;
	mem->size = PAGE_ALIGN(mem->offs + resource_size(res));
	return 0;
}

/* Registers the uio device for `parent` with its maps already added; irq <= 0: none. */
static int udrv_uio_register(struct device *parent, struct udrv_uio *dev, int irq)
{
	int ret;

	dev->info.name = parent->of_node ? parent->of_node->name : dev_name(parent);
	dev->info.version = "1";
	dev->info.priv = dev;
	spin_lock_init(&dev->lock);
	if (irq > 0) {
		dev->info.irq = irq;
		dev->info.handler = udrv_uio_handler;
		dev->info.irqcontrol = udrv_uio_irqcontrol;
	} else {
		dev->info.irq = UIO_IRQ_NONE;
	}
	ret = uio_register_device(parent, &dev->info);
	if (ret)
		dev_err(parent, "uio_register_device: %d\n", ret);
	else
		dev_set_drvdata(parent, dev);
	return ret;
}

static int udrv_uio_platform_probe(struct platform_device *pdev)
{
	struct udrv_uio *dev;
	unsigned int i, maps = 0;
	int irq;

	dev = devm_kzalloc(&pdev->dev, sizeof(*dev), GFP_KERNEL);
	if (!dev)
		return -ENOMEM;
	for (i = 0; i < pdev->num_resources; i++) {
		const struct resource *res = &pdev->resource[i];

		if (resource_type(res) != IORESOURCE_MEM)
			continue;
		if (udrv_uio_add_map(&pdev->dev, dev, maps, res))
			break;
		maps++;
	}
	irq = platform_get_irq_optional(pdev, 0);
	if (irq < 0 && irq != -ENXIO)
		return irq;  /* -EPROBE_DEFER among others */
	return udrv_uio_register(&pdev->dev, dev, irq);
}

static int udrv_uio_platform_remove(struct platform_device *pdev)
{
	struct udrv_uio *dev = platform_get_drvdata(pdev);

	uio_unregister_device(&dev->info);
	return 0;
}

static struct platform_driver udrv_uio_platform_driver = {
	.probe = udrv_uio_platform_probe,
	.remove = udrv_uio_platform_remove,
	.driver = {
		.name = UDRV_UIO_DRIVER_NAME,
	},
};

static int udrv_uio_amba_probe(struct amba_device *adev, const struct amba_id *id)
{
	struct udrv_uio *dev;
	int ret;

	dev = devm_kzalloc(&adev->dev, sizeof(*dev), GFP_KERNEL);
	if (!dev)
		return -ENOMEM;
	ret = udrv_uio_add_map(&adev->dev, dev, 0, &adev->res);
	if (ret)
		return ret;
	return udrv_uio_register(&adev->dev, dev, adev->irq[0]);
}

static void udrv_uio_amba_remove(struct amba_device *adev)
{
	struct udrv_uio *dev = amba_get_drvdata(adev);

	uio_unregister_device(&dev->info);
}

/* amba_lookup walks the table without a NULL check: only the terminator. */
static const struct amba_id udrv_uio_amba_ids[] = {
	{ 0, 0 },
};

static struct amba_driver udrv_uio_amba_driver = {
	.probe = udrv_uio_amba_probe,
	.remove = udrv_uio_amba_remove,
	.id_table = udrv_uio_amba_ids,
	.drv = {
		.name = UDRV_UIO_DRIVER_NAME,
	},
};

static int __init udrv_uio_init(void)
{
	int ret = platform_driver_register(&udrv_uio_platform_driver);

	if (ret)
		return ret;
	ret = amba_driver_register(&udrv_uio_amba_driver);
	if (ret)
		platform_driver_unregister(&udrv_uio_platform_driver);
	return ret;
}

static void __exit udrv_uio_exit(void)
{
	amba_driver_unregister(&udrv_uio_amba_driver);
	platform_driver_unregister(&udrv_uio_platform_driver);
}

module_init(udrv_uio_init);
module_exit(udrv_uio_exit);

MODULE_DESCRIPTION("udrv: device-tree devices' regions and interrupt through UIO, bound by driver_override");
MODULE_LICENSE("GPL");
