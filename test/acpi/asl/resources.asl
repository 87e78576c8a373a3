/*
 * Every resource descriptor iasl knows, one device each kind: the
 * resource decoder's test compares its decoding with iasl -d of the
 * compiled table.
 */
DefinitionBlock ("", "SSDT", 2, "UDRV", "RESOURCE", 0x00000001)
{
    Scope (\_SB)
    {
        Device (SMAL)
        {
            Name (_HID, EisaId ("PNP0C02"))
            Name (_UID, 1)
            Name (_CRS, ResourceTemplate ()
            {
                IRQ (Level, ActiveLow, Shared, ) {3, 4, 5}
                IRQ (Edge, ActiveHigh, Exclusive, ) {1}
                IRQNoFlags () {8}
                IRQ (Level, ActiveLow, SharedAndWake, ) {10}
                DMA (Compatibility, BusMaster, Transfer8, ) {2}
                DMA (TypeF, NotBusMaster, Transfer16, ) {5, 7}
                StartDependentFn (1, 2)
                {
                    IO (Decode16, 0x0378, 0x0378, 0x08, 0x08, )
                }
                StartDependentFnNoPri ()
                {
                    IO (Decode10, 0x0278, 0x0278, 0x04, 0x04, )
                }
                EndDependentFn ()
                IO (Decode16, 0x03F8, 0x03F8, 0x01, 0x08, )
                FixedIO (0x0060, 0x01, )
                FixedDMA (0x0005, 0x0002, Width32bit, )
                VendorShort () {0x01, 0x02, 0x03}
            })
        }

        Device (LARG)
        {
            Name (_HID, "UDRV0001")
            Name (_UID, "large")
            Name (_CRS, ResourceTemplate ()
            {
                Memory24 (ReadWrite, 0x0010, 0x00FF, 0x0010, 0x0020, )
                Memory32 (ReadOnly, 0x10000000, 0x1FFFF000, 0x00001000, 0x00002000, )
                Memory32Fixed (ReadWrite, 0xFED00000, 0x00000400, )
                Register (SystemMemory, 0x20, 0x00, 0x00000000FED40000, 0x03, )
                Register (SystemIO, 0x08, 0x00, 0x0000000000000080, , )
                VendorLong () {0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99}
                WordBusNumber (ResourceProducer, MinFixed, MaxFixed, PosDecode,
                    0x0000, 0x0000, 0x00FF, 0x0000, 0x0100,,,)
                WordIO (ResourceProducer, MinFixed, MaxFixed, PosDecode, EntireRange,
                    0x0000, 0x0D00, 0xFFFF, 0x0000, 0xF300,,, , TypeStatic, DenseTranslation)
                WordSpace (0xC0, ResourceConsumer, PosDecode, MinFixed, MaxFixed, 0x5A,
                    0x0000, 0x1000, 0x1FFF, 0x0000, 0x1000,,,)
                DWordMemory (ResourceProducer, PosDecode, MinFixed, MaxFixed, Cacheable, ReadWrite,
                    0x00000000, 0x000A0000, 0x000BFFFF, 0x00000000, 0x00020000,,, , AddressRangeMemory, TypeStatic)
                DWordIO (ResourceProducer, MinFixed, MaxFixed, PosDecode, EntireRange,
                    0x00000000, 0x00000000, 0x0000FFFF, 0x3EFF0000, 0x00010000,,, , TypeTranslation, SparseTranslation)
                DWordSpace (0xC3, ResourceConsumer, PosDecode, MinFixed, MaxFixed, 0x11,
                    0x00000000, 0x10000000, 0x1000FFFF, 0x00000000, 0x00010000,,,)
                QWordMemory (ResourceProducer, PosDecode, MinFixed, MaxFixed, Prefetchable, ReadWrite,
                    0x0000000000000000, 0x0000008000000000, 0x000000FFFFFFFFFF, 0x0000000000000000,
                    0x0000008000000000,,, , AddressRangeMemory, TypeStatic)
                QWordMemory (ResourceConsumer, PosDecode, MinFixed, MaxFixed, NonCacheable, ReadWrite,
                    0x0000000000000000, 0x0000000010000000, 0x000000001000FFFF, 0x0000004000000000,
                    0x0000000000010000, 0x07, "\\_SB.PCI0", , AddressRangeReserved, TypeTranslation)
                QWordIO (ResourceProducer, MinFixed, MaxFixed, PosDecode, EntireRange,
                    0x0000000000000000, 0x0000000000000000, 0x000000000000FFFF, 0x000000003EFF0000,
                    0x0000000000010000,,, , TypeStatic, DenseTranslation)
                QWordSpace (0xC1, ResourceConsumer, PosDecode, MinFixed, MaxFixed, 0x22,
                    0x0000000000000000, 0x0000000000001000, 0x0000000000001FFF, 0x0000000000000000,
                    0x0000000000001000,,,)
                ExtendedMemory (ResourceConsumer, PosDecode, MinFixed, MaxFixed, WriteCombining, ReadWrite,
                    0x0000000000000000, 0x00000000E0000000, 0x00000000E00FFFFF, 0x0000000000000000,
                    0x0000000000100000, 0x0000000000000008, , AddressRangeMemory, TypeStatic)
                ExtendedIO (ResourceConsumer, MinFixed, MaxFixed, PosDecode, EntireRange,
                    0x0000000000000000, 0x0000000000002000, 0x00000000000020FF, 0x0000000000000000,
                    0x0000000000000100, 0x0000000000000000, , TypeStatic, DenseTranslation)
                ExtendedSpace (0xC2, ResourceConsumer, PosDecode, MinFixed, MaxFixed, 0x33,
                    0x0000000000000000, 0x0000000000004000, 0x0000000000004FFF, 0x0000000000000000,
                    0x0000000000001000, 0x0000000000000000, )
                Interrupt (ResourceConsumer, Level, ActiveHigh, Exclusive, ,, ) {33}
                Interrupt (ResourceConsumer, Edge, ActiveLow, SharedAndWake, 0x05, "\\_SB.GPI0", ) {40, 41, 42}
            })
        }

        Device (SERL)
        {
            Name (_HID, "UDRV0002")
            Name (_CRS, ResourceTemplate ()
            {
                GpioInt (Edge, ActiveLow, ExclusiveAndWake, PullUp, 0x0000, "\\_SB.GPI0", 0x00, ResourceConsumer, ,
                    RawDataBuffer (0x02) {0xAA, 0xBB}) {0x0012}
                GpioIo (Shared, PullDown, 0x0010, 0x0020, IoRestrictionOutputOnly, "\\_SB.GPI0", 0x00, ResourceConsumer, ,) {0x0001, 0x0002}
                I2cSerialBusV2 (0x0050, ControllerInitiated, 0x00061A80, AddressingMode7Bit, "\\_SB.I2C0", 0x00, ResourceConsumer, , Exclusive,)
                SpiSerialBusV2 (0x0001, PolarityLow, FourWireMode, 0x08, ControllerInitiated, 0x00989680, ClockPolarityLow, ClockPhaseFirst, "\\_SB.SPI0", 0x00, ResourceConsumer, , Exclusive,)
                UartSerialBusV2 (0x0001C200, DataBitsEight, StopBitsOne, 0xC0, LittleEndian, ParityTypeNone, FlowControlHardware, 0x0040, 0x0040, "\\_SB.URT0", 0x00, ResourceConsumer, , Exclusive,)
            })
        }
    }
}
